import { createDb } from "@capy/db";
import { freePort } from "@capy/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { isConnectionError, retryOnDisconnect } from "./db-retry.js";

const log = pino({ level: "silent" });

describe("isConnectionError", () => {
  it("recognises connection failures by code, message or cause", () => {
    expect(isConnectionError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isConnectionError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isConnectionError(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "57P01" }) }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error("Can't reach database server"), { code: "P1001" }))).toBe(true);
  });

  it("leaves query errors alone", () => {
    expect(isConnectionError(Object.assign(new Error('duplicate key value violates unique constraint "backups_pkey"'), { code: "23505" }))).toBe(false);
    expect(isConnectionError(new Error('relation "jobs" does not exist'))).toBe(false);
  });

  it("recognises what Prisma throws when the metadata database does not answer", async () => {
    const db = createDb(`postgresql://postgres:postgres@127.0.0.1:${await freePort()}/capy`, { maxConnections: 1 });
    try {
      const error = await db.job.count().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeDefined();
      expect(isConnectionError(error)).toBe(true);
    } finally {
      await db.$disconnect();
    }
  });
});

describe("retryOnDisconnect", () => {
  it("retries connection failures until the write succeeds", async () => {
    let calls = 0;
    const result = await retryOnDisconnect(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        return "written";
      },
      { log, what: "test" },
    );
    expect(result).toBe("written");
    expect(calls).toBe(3);
  });

  it("throws other errors at once", async () => {
    let calls = 0;
    const failure = new Error("check constraint violated");
    await expect(
      retryOnDisconnect(
        async () => {
          calls++;
          throw failure;
        },
        { log, what: "test" },
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it("gives up after its bounded time", async () => {
    const started = Date.now();
    let calls = 0;
    await expect(
      retryOnDisconnect(
        async () => {
          calls++;
          throw new Error("Connection terminated unexpectedly");
        },
        { log, what: "test", maxMs: 400 },
      ),
    ).rejects.toThrow("Connection terminated");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toBeGreaterThan(1);
  });
});
