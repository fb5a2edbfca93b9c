// Samples, every ~100 ms during a chaos run, (a) pg_stat_activity on the run's source databases,
// telling pg_dump's connections apart from the worker's own sessions by the process that owns
// each connection's client port (see proc.ts), and (b) the metadata database's unfinished job
// rows. From these it records, per database, how many dumps ran at once (the per-database lock
// allows one), across the cluster (the dump cap), which job each dump belonged to (for the
// cancel checks), and what each job row went through (states, phases, retry classifications).
import { readFile } from "node:fs/promises";
import pg from "pg";
import { clientPortInodes, databaseArgument, processesNamed, socketInodes } from "./proc.js";

export interface DumpObservation {
  at: number;
  database: string;
  /** pg_dump's OS pid. */
  pid: number;
  /** WORKER_ID of its parent worker process; null when the parent is gone (a killed worker's orphan). */
  workerId: string | null;
  /** Running jobs this dump can belong to (same worker, same database) at that sample. */
  jobIds: string[];
}

export interface OverlapEvent {
  at: number;
  database: string;
  dumps: Array<{ pid: number; workerId: string | null; jobIds: string[] }>;
}

export interface JobTrace {
  firstSeenRunningAt?: number;
  lastSeenRunningAt?: number;
  phases: Set<string>;
  retryClassifications: Set<string>;
  claimedBy: Set<string>;
}

export interface SamplerReport {
  samples: number;
  sampleErrors: number;
  lastError?: string;
  /** Mean time between samples (ms). */
  meanIntervalMs: number;
  maxDumpsPerDatabase: Record<string, number>;
  /** Most "capy-backups" connections seen on one database at once (dumps plus worker sessions). */
  maxSessionsPerDatabase: Record<string, number>;
  maxClusterDumps: number;
  maxClusterDumpsAt?: number;
  overlapSamples: number;
  /** The first overlaps seen (at most 20). */
  overlaps: OverlapEvent[];
  /** capy-backups connections whose client process was neither a pg_dump nor a known worker. */
  unattributedConnections: number;
  /** capy-backups connections whose client end was already closed (a process that just exited). */
  closingConnections: number;
  unattributedExamples: string[];
  dumps: DumpObservation[];
  jobs: Map<string, JobTrace>;
}

export interface SamplerOptions {
  /** Any database on the source cluster (pg_stat_activity is cluster-wide). */
  adminUrl: string;
  metadataUrl: string;
  /** Port the source cluster listens on (to find the client ends of its TCP connections). */
  serverPort: number;
  sourceDatabases: string[];
  /** WORKER_ID of a worker process this run started, by OS pid. */
  workerIdOf(pid: number): string | undefined;
  /** OS pids of the run's live worker processes. */
  workerPids(): number[];
  intervalMs?: number;
}

export interface Sampler {
  /** The latest sample's unfinished job rows. */
  current(): SampledJob[];
  stop(): Promise<SamplerReport>;
}

export interface SampledJob {
  id: string;
  state: string;
  phase: string | null;
  claimedBy: string | null;
  retryClassification: string | null;
  database: string;
}

export async function startSampler(options: SamplerOptions): Promise<Sampler> {
  const intervalMs = options.intervalMs ?? 100;
  const admin = new pg.Client({ connectionString: options.adminUrl, application_name: "capy-chaos-sampler" });
  const metadata = new pg.Client({ connectionString: options.metadataUrl, application_name: "capy-chaos-sampler" });
  await Promise.all([admin.connect(), metadata.connect()]);
  const report: SamplerReport = {
    samples: 0,
    sampleErrors: 0,
    meanIntervalMs: 0,
    maxDumpsPerDatabase: Object.fromEntries(options.sourceDatabases.map((d) => [d, 0])),
    maxSessionsPerDatabase: Object.fromEntries(options.sourceDatabases.map((d) => [d, 0])),
    maxClusterDumps: 0,
    overlapSamples: 0,
    overlaps: [],
    unattributedConnections: 0,
    closingConnections: 0,
    unattributedExamples: [],
    dumps: [],
    jobs: new Map(),
  };
  let latest: SampledJob[] = [];
  let stopped = false;
  const startedAt = Date.now();

  const tick = async () => {
    const at = Date.now();
    const [activity, jobs] = await Promise.all([
      admin.query<{ pid: number; datname: string; client_port: number | null; state: string | null; query: string }>(
        `SELECT pid, datname, client_port, state, left(query, 60) AS query FROM pg_stat_activity
          WHERE datname = ANY($1) AND application_name = 'capy-backups' AND backend_type = 'client backend'`,
        [options.sourceDatabases],
      ),
      metadata.query<{
        id: string;
        state: string;
        phase: string | null;
        claimed_by: string | null;
        retry_classification: string | null;
        database_name: string;
      }>(
        `SELECT j.id, j.state, j.phase, j.claimed_by, j.retry_classification, p.database_name
           FROM jobs j JOIN projects p ON p.id = j.project_id
          WHERE j.state IN ('pending', 'running')`,
      ),
    ]);
    latest = jobs.rows.map((r) => ({
      id: r.id,
      state: r.state,
      phase: r.phase,
      claimedBy: r.claimed_by,
      retryClassification: r.retry_classification,
      database: r.database_name,
    }));
    for (const job of latest) {
      let trace = report.jobs.get(job.id);
      if (!trace) {
        trace = { phases: new Set(), retryClassifications: new Set(), claimedBy: new Set() };
        report.jobs.set(job.id, trace);
      }
      if (job.retryClassification) trace.retryClassifications.add(job.retryClassification);
      if (job.state === "running") {
        trace.firstSeenRunningAt ??= at;
        trace.lastSeenRunningAt = at;
        if (job.phase) trace.phases.add(job.phase);
        if (job.claimedBy) trace.claimedBy.add(job.claimedBy);
      }
    }

    const sessions = new Map<string, number>();
    const dumpsByDatabase = new Map<string, Array<{ pid: number; workerId: string | null; jobIds: string[] }>>();
    if (activity.rows.length > 0) {
      // Who owns each connection: pg_dump processes (their parent names the worker) or a worker.
      const [portInodes, pgDumps] = await Promise.all([clientPortInodes(options.serverPort), processesNamed("pg_dump")]);
      const owners = new Map<string, { kind: "pg_dump"; pid: number; ppid: number; database?: string } | { kind: "worker"; pid: number }>();
      await Promise.all(
        pgDumps.map(async (p) => {
          for (const inode of await socketInodes(p.pid))
            owners.set(inode, { kind: "pg_dump", pid: p.pid, ppid: p.ppid, database: databaseArgument(p.cmdline) });
        }),
      );
      const unowned = activity.rows.filter((r) => r.client_port !== null && !owners.has(portInodes.get(r.client_port) ?? ""));
      if (unowned.length > 0) {
        // Only then look at the worker processes' sockets (a worker holds many).
        // A worker that is still starting is not in workerPids() yet: look at every node process.
        const nodes = (await processesNamed("node")).map((p) => p.pid);
        await Promise.all(
          [...new Set([...options.workerPids(), ...nodes])].map(async (pid) => {
            for (const inode of await socketInodes(pid)) if (!owners.has(inode)) owners.set(inode, { kind: "worker", pid });
          }),
        );
      }
      for (const row of activity.rows) {
        sessions.set(row.datname, (sessions.get(row.datname) ?? 0) + 1);
        const inode = row.client_port === null ? undefined : portInodes.get(row.client_port);
        if (inode === undefined) {
          // The client end is already closed (the process exited); the backend has not noticed yet.
          report.closingConnections++;
          continue;
        }
        const owner = owners.get(inode);
        if (!owner && (await clientPortInodes(options.serverPort)).get(row.client_port!) !== inode) {
          // Closed while this sample was taken (e.g. the snapshot session ending with its dump).
          report.closingConnections++;
          continue;
        }
        if (!owner) {
          report.unattributedConnections++;
          if (report.unattributedExamples.length < 5) report.unattributedExamples.push(`${row.datname} port ${row.client_port} ${row.state}: ${row.query}`);
          continue;
        }
        if (owner.kind !== "pg_dump") continue;
        // A killed worker's pg_dump is re-parented, so its parent is no longer a worker of ours;
        // a worker still starting is known by its environment.
        const workerId = options.workerIdOf(owner.ppid) ?? (await workerIdFromEnviron(owner.ppid)) ?? null;
        const liveIds = new Set(options.workerPids().map((pid) => options.workerIdOf(pid)));
        // An orphan can only belong to a job still claimed by a worker that is gone.
        const jobIds = latest
          .filter(
            (j) =>
              j.state === "running" && j.database === row.datname && (workerId === null ? !liveIds.has(j.claimedBy ?? undefined) : j.claimedBy === workerId),
          )
          .map((j) => j.id);
        const entry = { pid: owner.pid, workerId, jobIds };
        dumpsByDatabase.set(row.datname, [...(dumpsByDatabase.get(row.datname) ?? []), entry]);
        report.dumps.push({ at, database: row.datname, ...entry });
      }
    }
    let clusterDumps = 0;
    for (const database of options.sourceDatabases) {
      const dumps = dumpsByDatabase.get(database) ?? [];
      clusterDumps += dumps.length;
      report.maxDumpsPerDatabase[database] = Math.max(report.maxDumpsPerDatabase[database] ?? 0, dumps.length);
      report.maxSessionsPerDatabase[database] = Math.max(report.maxSessionsPerDatabase[database] ?? 0, sessions.get(database) ?? 0);
      if (dumps.length > 1) {
        report.overlapSamples++;
        if (report.overlaps.length < 20) report.overlaps.push({ at, database, dumps });
      }
    }
    if (clusterDumps > report.maxClusterDumps) {
      report.maxClusterDumps = clusterDumps;
      report.maxClusterDumpsAt = at;
    }
    report.samples++;
  };

  const loop = (async () => {
    while (!stopped) {
      const began = Date.now();
      try {
        await tick();
      } catch (error) {
        report.sampleErrors++;
        report.lastError = error instanceof Error ? error.message : String(error);
      }
      const wait = Math.max(0, intervalMs - (Date.now() - began));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  return {
    current: () => latest,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([admin.end().catch(() => {}), metadata.end().catch(() => {})]);
      report.meanIntervalMs = report.samples > 0 ? (Date.now() - startedAt) / report.samples : 0;
      return report;
    },
  };
}

async function workerIdFromEnviron(pid: number): Promise<string | undefined> {
  const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
  return environ
    .split("\0")
    .find((v) => v.startsWith("WORKER_ID="))
    ?.slice("WORKER_ID=".length);
}
