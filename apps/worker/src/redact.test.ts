import { describe, expect, it } from "vitest";
import { REDACTED, redactSecrets } from "./redact.js";

describe("redactSecrets", () => {
  it("removes known secrets and their URL-encoded form", () => {
    const secret = "p@ss:word/1";
    const text = `failed for ${secret} and postgres-url-form ${encodeURIComponent(secret)}`;
    const redacted = redactSecrets(text, [secret]);
    expect(redacted).not.toContain(secret);
    expect(redacted).not.toContain(encodeURIComponent(secret));
    expect(redacted).toBe(`failed for ${REDACTED} and postgres-url-form ${REDACTED}`);
  });

  it("treats secrets literally, not as patterns", () => {
    expect(redactSecrets("a.b.c and a+b", ["a.b", "a+b"])).toBe(`${REDACTED}.c and ${REDACTED}`);
  });

  it("removes password= settings, quoted or not", () => {
    expect(redactSecrets("host=db password=hunter2 user=x")).toBe(`host=db password=${REDACTED} user=x`);
    expect(redactSecrets("password = 'two words' dbname=a")).toBe(`password = ${REDACTED} dbname=a`);
    expect(redactSecrets("PGPASSWORD=hunter2 pg_dump")).toBe(`PGPASSWORD=${REDACTED} pg_dump`);
  });

  it("removes credentials from URIs", () => {
    expect(redactSecrets("postgresql://alice:hunter2@db.internal:5432/app")).toBe(`postgresql://alice:${REDACTED}@db.internal:5432/app`);
    expect(redactSecrets("redis://:hunter2@cache:6379/0")).toBe(`redis://:${REDACTED}@cache:6379/0`);
    // An unencoded @ in the password: everything up to the address's last @ goes.
    expect(redactSecrets('failed: "postgresql://alice:p@ss@db.internal/app"')).toBe(`failed: "postgresql://alice:${REDACTED}@db.internal/app"`);
  });

  it("removes passwords from the SQL statements pg_restore quotes", () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "etl" does not exist',
      "Command was: CREATE USER MAPPING FOR etl SERVER warehouse OPTIONS (\n    password 'it''s-secret',\n    \"user\" 'etl'\n);",
      "Command was: CREATE ROLE app LOGIN ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi';",
    ].join("\n");
    const redacted = redactSecrets(stderr);
    expect(redacted).not.toMatch(/it''s-secret|SCRAM-SHA-256/);
    expect(redacted).toContain(`password ${REDACTED},`);
    expect(redacted).toContain(`PASSWORD ${REDACTED};`);
    expect(redacted).toContain(`"user" 'etl'`);
  });

  it("leaves ordinary pg_dump messages alone", () => {
    const stderr = 'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "x" does not exist\n';
    expect(redactSecrets(stderr, [null, undefined, ""])).toBe(stderr);
  });
});
