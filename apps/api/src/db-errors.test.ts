// Which failures count as "metadata database unavailable" (503) rather than a 500.

import { createDb, Prisma } from "@capy/db";
import { freePort } from "@capy/testing";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "./db-errors.js";
import { asAppError } from "./errors.js";

describe("isDatabaseUnavailable", () => {
  it("recognises Prisma's errors for an unreachable server (model and raw queries)", async () => {
    const db = createDb(`postgresql://postgres:x@127.0.0.1:${await freePort()}/nothing`);
    try {
      const model = await db.apiKey.findUnique({ where: { keyHash: "x" } }).catch((error: unknown) => error);
      const raw = await db.$queryRaw`SELECT 1`.catch((error: unknown) => error);
      expect((model as { code?: string }).code).toBe("P1001");
      expect(isDatabaseUnavailable(model)).toBe(true);
      expect(isDatabaseUnavailable(raw)).toBe(true);
      expect(asAppError(model)).toMatchObject({ code: "DATABASE_UNAVAILABLE", status: 503, message: "service temporarily unavailable; retry later" });
    } finally {
      await db.$disconnect();
    }
  });

  it("recognises node-postgres and server messages of lost connections", () => {
    for (const error of [
      new Error("Connection terminated unexpectedly"),
      new Error("timeout exceeded when trying to connect"),
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      Object.assign(new Error("the database system is starting up"), { code: "57P03" }),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      new Prisma.PrismaClientKnownRequestError("Timed out fetching a new connection from the connection pool", { code: "P2024", clientVersion: "6" }),
      new Error("wrapped", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) }),
    ]) {
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    }
  });

  it("leaves other failures alone (they stay 500s or their own status)", () => {
    for (const error of [
      new Prisma.PrismaClientKnownRequestError("Unique constraint failed", { code: "P2002", clientVersion: "6" }),
      Object.assign(new Error('relation "jobs" does not exist'), { code: "42P01" }),
      new TypeError("Cannot read properties of undefined"),
      "a string",
      null,
    ]) {
      expect(isDatabaseUnavailable(error), String(error)).toBe(false);
    }
  });
});
