// The one PrismaClient factory. Prisma runs in "client" engine mode (no Rust query engine):
// queries go through the pg driver adapter, over a pg pool made here so that the hot-path reads
// of hot-paths.ts share its connections (one pool per process, not two).
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.js";

export type Db = PrismaClient & {
  /** The pool under Prisma's adapter; hot-paths.ts runs its statements on it. */
  readonly pool: pg.Pool;
};

export interface DbOptions {
  /** Pool size per process. */
  maxConnections?: number;
}

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // Fail fast when the metadata database is unreachable instead of queueing forever (ms).
    connectionTimeoutMillis: 5_000,
  });
  // An idle connection that breaks (a database restart) is dropped by the pool; without a
  // listener its error event would crash the process before Prisma's adapter adds its own.
  pool.on("error", () => {});
  // $disconnect() ends the pool, as when the adapter owned it.
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  return Object.assign(new PrismaClient({ adapter }), { pool });
}
