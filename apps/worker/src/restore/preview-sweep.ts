// The preview sweep (every worker, at start and every PREVIEW_SWEEP_INTERVAL_MS): previews past
// their TTL are marked `deleting`; `deleting` ones (TTL or DELETE) have their database and role
// dropped and end `deleted`; previews still `creating` whose restore job ended without completing
// (a worker killed for good, a pending job canceled) are dropped and end `failed`; staging
// databases of project restores whose job has ended are dropped. Every state change is
// conditional, so all workers may sweep at once.
import type { Db } from "@capy/db";
import { appendPreviewEvent } from "@capy/jobs";
import type { Logger } from "../logger.js";
import { type Periodic, runPeriodically } from "../maintenance/periodic.js";
import { connectTo } from "../postgres/session.js";
import { clusterAdmin } from "../postgres/target.js";
import { cleanUpProjectRestore, jobOfStagingDatabase } from "./databases.js";
import type { ServerLogins } from "./servers.js";
import { dropPreview, failPreviewOfEndedJob } from "./settle.js";

export interface PreviewSweepOptions extends ServerLogins {
  log: Logger;
}

export interface PreviewSweepResult {
  expired: number;
  deleted: string[];
  failed: string[];
  stagingDropped: string[];
}

const ENDED = ["failed", "canceled"];

export async function sweepPreviews(options: PreviewSweepOptions, now = new Date()): Promise<PreviewSweepResult> {
  const { db, log } = options;
  const { count: expired } = await db.previewDatabase.updateMany({ where: { state: "ready", ttlExpiresAt: { lte: now } }, data: { state: "deleting" } });
  const result: PreviewSweepResult = { expired, deleted: [], failed: [], stagingDropped: [] };
  for (const preview of await db.previewDatabase.findMany({ where: { state: "deleting" } })) {
    await attempt(log, preview.id, async () => {
      await dropPreview(options, preview);
      if (await markDeleted(db, preview.id)) result.deleted.push(preview.id);
    });
  }
  const stuck = await db.previewDatabase.findMany({ where: { state: "creating", jobId: { not: null } } });
  const ended = new Set(
    (await db.job.findMany({ where: { id: { in: stuck.map((p) => p.jobId!) }, state: { in: ENDED } }, select: { id: true } })).map((j) => j.id),
  );
  for (const preview of stuck.filter((p) => ended.has(p.jobId!))) {
    await attempt(log, preview.id, async () => {
      await dropPreview(options, preview);
      if (await failPreviewOfEndedJob(db, preview.id, preview.jobId!)) result.failed.push(preview.id);
    });
  }
  result.stagingDropped = await sweepStagingDatabases(options);
  if (result.expired + result.deleted.length + result.failed.length + result.stagingDropped.length > 0) log.info(result, "preview sweep");
  return result;
}

/** `deleting` → `deleted` with its preview.deleted event, in one transaction; false if another sweep did it. */
async function markDeleted(db: Db, previewId: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.previewDatabase.updateMany({ where: { id: previewId, state: "deleting" }, data: { state: "deleted" } });
    if (count === 0) return false;
    await appendPreviewEvent(tx, "preview.deleted", await tx.previewDatabase.findUniqueOrThrow({ where: { id: previewId } }));
    return true;
  });
}

async function attempt(log: Logger, previewId: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    log.warn(
      { preview_database_id: previewId, err: error instanceof Error ? error.message : String(error) },
      "preview sweep could not drop a preview; retrying next pass",
    );
  }
}

/** Staging (`capy_restore_<job>`) and replaced (`capy_replaced_<job>`) databases of ended restore jobs, on every registered cluster. */
async function sweepStagingDatabases(options: PreviewSweepOptions): Promise<string[]> {
  const dropped: string[] = [];
  for (const cluster of await options.db.cluster.findMany({ where: { adminRegisteredAt: { not: null } } })) {
    try {
      const admin = clusterAdmin(cluster, options.keyring);
      const client = await connectTo(admin);
      let names: string[];
      try {
        const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_catalog.pg_database WHERE datname ~ '^capy_(restore|replaced)_'");
        names = rows.map((row) => row.datname);
      } finally {
        await client.end().catch(() => {});
      }
      const jobs = names.map((name) => jobOfStagingDatabase(name)).filter((id): id is string => id !== null);
      // Only databases of this deployment's own ended jobs (another deployment may share the server).
      const over = await options.db.job.findMany({ where: { id: { in: jobs }, state: { in: [...ENDED, "completed"] } } });
      for (const job of over) {
        const project = await options.db.project.findUniqueOrThrow({ where: { id: job.projectId } });
        // Also lets the project's database take connections again, should its worker have died mid-swap.
        await cleanUpProjectRestore(admin, project.databaseName, job.id);
        dropped.push(...names.filter((name) => jobOfStagingDatabase(name) === job.id));
      }
    } catch (error) {
      options.log.warn(
        { cluster_id: cluster.id, err: error instanceof Error ? error.message : String(error) },
        "preview sweep could not look for staging databases on a cluster",
      );
    }
  }
  return dropped;
}

export function startPreviewSweep(options: PreviewSweepOptions & { intervalMs: number }): Periodic {
  return runPeriodically(async () => {
    try {
      await sweepPreviews(options);
    } catch (error) {
      options.log.warn({ err: error instanceof Error ? error.message : String(error) }, "preview sweep failed");
    }
  }, options.intervalMs);
}
