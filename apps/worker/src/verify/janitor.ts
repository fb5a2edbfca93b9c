// Throwaway verification databases outlive their verification only when a worker dies mid-way
// (SIGKILL, OOM, a lost host). At start and then periodically, every worker drops, on every
// cluster known to the metadata database, the throwaway databases whose embedded creation time is
// older than the longest a verification may take (VERIFY_TIMEOUT_MS) plus a margin.
import { type Db, type Keyring, quoteIdent } from "@capy/db";
import type { Logger } from "../logger.js";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { connectTo } from "../postgres/session.js";
import { clusterAdmin } from "../postgres/target.js";
import { DROP_TIMEOUT_MS, throwawayCreatedAt } from "./verifier.js";

export interface JanitorOptions {
  db: Db;
  keyring: Keyring | undefined;
  databasePrefix: string;
  /** Databases older than this (ms since their embedded creation time) are dropped. */
  maxAgeMs: number;
  intervalMs: number;
  log: Logger;
  /** VERIFY_DATABASE_URL's operator login, swept too when set. */
  verifyServer?: DumpTarget | undefined;
}

export interface JanitorPass {
  dropped: string[];
  failedClusters: number;
}

/** One pass over every cluster. */
export async function sweepThrowawayDatabases(options: Omit<JanitorOptions, "intervalMs">, now = Date.now()): Promise<JanitorPass> {
  const { db, log, databasePrefix } = options;
  const clusters = await db.cluster.findMany({ where: { adminRegisteredAt: { not: null } }, orderBy: { id: "asc" } });
  const servers: Array<{ id: string; admin: () => DumpTarget }> = clusters.map((cluster) => ({
    id: cluster.id,
    admin: () => clusterAdmin(cluster, options.keyring),
  }));
  if (options.verifyServer) servers.push({ id: "VERIFY_DATABASE_URL", admin: () => options.verifyServer! });
  const dropped: string[] = [];
  let failedClusters = 0;
  for (const cluster of servers) {
    try {
      const admin = cluster.admin();
      const client = await connectTo(admin);
      try {
        // Bounded like the verifier's own drop (a stuck backend elsewhere can stall DROP DATABASE).
        await client.query(`SET statement_timeout = ${DROP_TIMEOUT_MS}`);
        const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1) ORDER BY datname", [
          `${databasePrefix}_`,
        ]);
        for (const { datname } of rows) {
          const createdAt = throwawayCreatedAt(databasePrefix, datname);
          if (createdAt === null || now - createdAt <= options.maxAgeMs) continue;
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
          dropped.push(datname);
          log.warn({ cluster_id: cluster.id, database: datname, age_ms: now - createdAt }, "janitor dropped a leftover throwaway database");
        }
      } finally {
        await client.end().catch(() => {});
      }
    } catch (error) {
      failedClusters += 1;
      log.warn({ cluster_id: cluster.id, err: error instanceof Error ? error.message : String(error) }, "janitor could not sweep a cluster");
    }
  }
  return { dropped, failedClusters };
}

/** Sweeps now and every `intervalMs`; the returned function stops it (and waits for a running pass). */
export function startJanitor(options: JanitorOptions): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = async () => {
    try {
      const result = await sweepThrowawayDatabases(options);
      options.log.info({ dropped: result.dropped.length, failed_clusters: result.failedClusters }, "verification janitor pass finished");
    } catch (error) {
      options.log.warn({ err: error instanceof Error ? error.message : String(error) }, "verification janitor pass failed");
    }
    if (!stopped) {
      timer = setTimeout(() => (running = pass()), options.intervalMs);
      timer.unref();
    }
  };
  running = pass();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
