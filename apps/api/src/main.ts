// Entry point: configuration, dependencies, listen; on SIGTERM/SIGINT stop accepting requests,
// let in-flight ones finish, then close the queue and the database pool.
import type { AddressInfo } from "node:net";
import { assertStoredSecretsOpen, StoredSecretsError } from "@capy/db";
import { closeDeps, createDeps } from "./deps.js";
import { loadConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { guardRedisPolicy } from "./redis-policy.js";
import { buildServer } from "./server.js";

/** Longest a graceful shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

const config = loadConfig();
const logger = createLogger(config);
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

try {
  // Refuse to run with a keyring that opens none of the stored secrets (one line, below).
  await assertStoredSecretsOpen(deps.db, config.keyring, (message) => logger.warn(message));
  // Refuse to run against a Redis that may evict queue keys (maxmemory-policy must be noeviction).
  await guardRedisPolicy(deps.redis, logger, (error) => {
    logger.fatal({ err: error }, "api stopping: Redis may evict queue keys");
    void shutdown("redis-policy", 1);
  });
  await app.listen({ host: config.host, port: config.port });
  logger.info({ port: (app.server.address() as AddressInfo).port }, "api listening");
} catch (err) {
  if (err instanceof StoredSecretsError) logger.fatal(err.message);
  else logger.fatal({ err }, "api failed to start");
  await closeDeps(deps).catch(() => {});
  process.exit(1);
}
