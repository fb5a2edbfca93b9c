// The one PrismaClient factory. Prisma runs in "client" engine mode (no Rust query engine):
// queries go through the pg driver adapter.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.js";

export type Db = PrismaClient;

export interface DbOptions {
  /** Pool size per process. */
  maxConnections?: number;
}

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // Fail fast when the metadata database is unreachable instead of queueing forever (ms).
    connectionTimeoutMillis: 5_000,
  });
  return new PrismaClient({ adapter });
}
