import { keyId } from "@capy/db";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./env.js";

describe("loadConfig", () => {
  it("has a working local default for every setting", () => {
    const { keyring, ...config } = loadConfig({ CAPY_ENCRYPTION_KEY: "a".repeat(64) });
    expect(keyring?.keyIds).toEqual([keyId("a".repeat(64))]);
    expect(config).toEqual({
      databaseUrl: "postgresql://postgres:postgres@127.0.0.1:5432/capy",
      redis: { url: "redis://127.0.0.1:6379/0", prefix: "capy" },
      port: 3000,
      host: "0.0.0.0",
      publicUrl: "http://127.0.0.1:3000",
      storageDir: "./.data/storage",
      logLevel: "info",
      logPretty: false,
      operatorToken: undefined,
      nodeEnv: "development",
      sessions: undefined,
      rateLimit: { perMinute: 600 },
      bodyLimitBytes: 65_536,
      trustProxy: false,
      consoleDir: expect.stringMatching(/apps\/web\/dist$/),
      previewsPerProject: 10,
      webhookPolicy: { allowInsecure: false, allowPrivateTargets: false },
      searchPath: expect.any(String),
    });
  });

  it("reads the environment and treats empty variables as unset", () => {
    const config = loadConfig({ REDIS_URL: "redis://cache:6380/4", PORT: "8080", CAPY_REDIS_PREFIX: "", LOG_LEVEL: "debug" });
    expect(config).toMatchObject({ redis: { url: "redis://cache:6380/4", prefix: "capy" }, port: 8080, logLevel: "debug" });
  });

  it("reads limits and proxy trust", () => {
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: "30", BODY_LIMIT_BYTES: "2048", TRUST_PROXY: "10.0.0.0/8,127.0.0.1" })).toMatchObject({
      rateLimit: { perMinute: 30 },
      bodyLimitBytes: 2048,
      trustProxy: "10.0.0.0/8,127.0.0.1",
    });
    expect(loadConfig({ TRUST_PROXY: "true" }).trustProxy).toBe(true);
    expect(loadConfig({ PREVIEWS_PER_PROJECT: "3" }).previewsPerProject).toBe(3);
  });

  it("enables session tokens only with a key and an issuer", () => {
    expect(loadConfig({ CAPY_JWT_PUBLIC_KEY_FILE: "/k.pem", CAPY_JWT_ISSUER: "https://id.example" }).sessions).toEqual({
      publicKeyFile: "/k.pem",
      jwksFile: undefined,
      issuer: "https://id.example",
      audience: undefined,
    });
    expect(() => loadConfig({ CAPY_JWT_JWKS_FILE: "/k.json" })).toThrow(/CAPY_JWT_ISSUER: required/);
    expect(() => loadConfig({ CAPY_JWT_JWKS_FILE: "/k.json", CAPY_JWT_PUBLIC_KEY_FILE: "/k.pem", CAPY_JWT_ISSUER: "i" })).toThrow(/set only one/);
  });

  it("builds the keyring from CAPY_ENCRYPTION_KEY and CAPY_ENCRYPTION_KEYS_OLD", () => {
    const [current, old1, old2] = ["a", "b", "c"].map((c) => c.repeat(64)) as [string, string, string];
    expect(loadConfig({ CAPY_ENCRYPTION_KEY: current, CAPY_ENCRYPTION_KEYS_OLD: ` ${old1}, ${old2},` }).keyring?.keyIds).toEqual(
      [current, old1, old2].map(keyId),
    );
    expect(() => loadConfig({ CAPY_ENCRYPTION_KEY: current, CAPY_ENCRYPTION_KEYS_OLD: `${old1},nope` })).toThrow(
      /invalid configuration: CAPY_ENCRYPTION_KEYS_OLD: key 2 is not 64 hex characters/,
    );
  });

  it("names every invalid variable", () => {
    expect(() => loadConfig({ PORT: "http", REDIS_URL: "http://x", CAPY_ENCRYPTION_KEY: "short" })).toThrow(
      /invalid configuration: .*REDIS_URL.*PORT.*CAPY_ENCRYPTION_KEY: must be 64 hex characters/,
    );
  });
});

describe("webhook target switches", () => {
  it("are off unless set to 1", () => {
    expect(loadConfig({ WEBHOOK_ALLOW_INSECURE: "1", WEBHOOK_ALLOW_PRIVATE_TARGETS: "0" }).webhookPolicy).toEqual({
      allowInsecure: true,
      allowPrivateTargets: false,
    });
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "yes" })).toThrow(/WEBHOOK_ALLOW_PRIVATE_TARGETS/);
  });
});
