// The worker's own SQL sessions with tenant clusters (besides the pg_dump/pg_restore children):
// the snapshot transaction a backup dumps and counts in, and admin sessions that create, inspect
// and drop throwaway verification databases. Passwords go straight to the driver, never to a log.
import pg from "pg";
import { collectInventory, type Inventory } from "./inventory.js";
import { PG_CONNECT_TIMEOUT_SECONDS } from "./libpq-args.js";
import type { DumpTarget } from "./pg-dump.js";

/** Opens a session to `target` (its database unless `database` is given). */
export async function connectTo(target: DumpTarget, database: string = target.database, applicationName = "capy-backups"): Promise<pg.Client> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database,
    ...(target.password === null ? {} : { password: target.password }),
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_SECONDS * 1_000,
    application_name: applicationName,
  });
  // A connection the server ends (e.g. DROP DATABASE … WITH (FORCE)) must not crash the worker;
  // the pending query, if any, rejects on its own.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}

export interface SourceSnapshot {
  /** What pg_export_snapshot() returned; pg_dump --snapshot imports it. */
  id: string;
  /** Collects the inventory in the snapshot, on this session (once pg_dump has exited). */
  inventory(): Promise<Inventory>;
  /** Ends the transaction and the session; call only after pg_dump has exited. */
  close(): Promise<void>;
  /** Drops the session at once (the job was stopped): a running inventory query rejects. */
  abort(): void;
}

/**
 * A REPEATABLE READ, READ ONLY transaction on the source that exports its snapshot. It must stay
 * open while pg_dump imports and uses the snapshot, and until the counting in it is done.
 */
export async function openSourceSnapshot(target: DumpTarget): Promise<SourceSnapshot> {
  // Named apart from pg_dump's own session ("capy-backups"), so pg_stat_activity tells them apart.
  const client = await connectTo(target, target.database, "capy-backups-snapshot").catch((error: unknown) => {
    throw new Error(`could not connect to the source database: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  });
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    // The counting runs beside the verification's decoding and restore: one process, not a
    // leader plus parallel workers competing with them for the cores.
    await client.query("SET LOCAL max_parallel_workers_per_gather = 0");
    const { rows } = await client.query<{ id: string }>("SELECT pg_catalog.pg_export_snapshot() AS id");
    const id = rows[0]!.id;
    let closed = false;
    return {
      id,
      inventory: () => collectInventory(client),
      abort() {
        if (closed) return;
        closed = true;
        void client.end().catch(() => {});
      },
      async close() {
        if (closed) return;
        closed = true;
        await client.query("ROLLBACK").catch(() => {});
        await client.end().catch(() => {});
      },
    };
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

/**
 * Ends the sessions on the source database that a lost attempt of a backup left behind: its
 * pg_dump ("capy-backups") and snapshot ("capy-backups-snapshot") sessions. The caller holds the
 * database's lock, so any such session belongs to a fenced-off attempt. It matters beyond tidiness:
 * a paused worker's pg_dump stops reading, its server backend then blocks writing to it, and on
 * PostgreSQL 15 such a backend holds up every DROP DATABASE on the cluster (which waits for all
 * backends to absorb a ProcSignalBarrier), verification's throwaway databases included. Ending a
 * session of one's own role needs no extra privilege. Returns how many were ended.
 */
export async function endLostDumpSessions(target: DumpTarget): Promise<number> {
  const client = await connectTo(target, target.database, "capy-backups-fence");
  try {
    const { rows } = await client.query<{ ended: number }>(
      `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))::int AS ended
         FROM pg_catalog.pg_stat_activity
        WHERE datname = current_database()
          AND application_name IN ('capy-backups', 'capy-backups-snapshot')
          AND pid <> pg_catalog.pg_backend_pid()`,
    );
    return rows[0]?.ended ?? 0;
  } finally {
    await client.end().catch(() => {});
  }
}
