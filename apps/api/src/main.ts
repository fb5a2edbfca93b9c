// Entry point: configuration, dependencies, listen; on SIGTERM/SIGINT stop accepting requests,
// let in-flight ones finish and their enqueues reach Redis (at most 2 s), then close the queue
// and the database pool.
import type { AddressInfo } from "node:net";
import { assertStoredSecretsOpen, createDb, StoredSecretsError } from "@capy/db";
import { closeDeps, createDeps } from "./deps.js";
import { loadConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { guardRedisPolicy } from "./redis-policy.js";
import { buildServer } from "./server.js";

/** Longest a graceful shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

const config = loadConfig();
const logger = createLogger(config);
await refuseUnopenableSecrets();
const deps = createDeps(config, logger);
const app = buildServer(deps);

let stopping = false;
/** `reason`: the signal, or why the API stops by itself; `exitCode` once stopped cleanly. */
async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ reason }, "api shutting down");
  setTimeout(() => {
    logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, "shutdown timed out");
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  try {
    await app.close();
    await closeDeps(deps);
    logger.info("api stopped");
    process.exit(exitCode);
  } catch (err) {
    logger.error({ err }, "shutdown failed");
    process.exit(1);
  }
}
process.once("SIGTERM", (signal) => void shutdown(signal));
process.once("SIGINT", (signal) => void shutdown(signal));

/**
 * Refuses to run with a keyring that opens none of the stored secrets, in one line, before
 * anything else starts (and logs): its own short-lived connection.
 */
async function refuseUnopenableSecrets(): Promise<void> {
  const db = createDb(config.databaseUrl, { maxConnections: 1 });
  try {
    await assertStoredSecretsOpen(db, config.keyring, (message) => logger.warn(message));
  } catch (err) {
    if (!(err instanceof StoredSecretsError)) throw err;
    logger.fatal(err.message);
    await db.$disconnect().catch(() => {});
    process.exit(1);
  }
  await db.$disconnect();
}

try {
  // Refuse to run against a Redis that may evict queue keys (maxmemory-policy must be noeviction).
  await guardRedisPolicy(deps.redis, logger, (error) => {
    logger.fatal({ err: error }, "api stopping: Redis may evict queue keys");
    void shutdown("redis-policy", 1);
  });
  await app.listen({ host: config.host, port: config.port });
  logger.info({ port: (app.server.address() as AddressInfo).port }, "api listening");
} catch (err) {
  logger.fatal({ err }, "api failed to start");
  await closeDeps(deps).catch(() => {});
  process.exit(1);
}
