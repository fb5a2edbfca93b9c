#!/usr/bin/env node
// bench/backup-overhead: what a backup and its verification through Capy cost against the limits
// of the machine, on the reference database (../shared/bench/make-bench-db.sh, ~1.5 GB). Each
// round measures, in the same run:
//   extraction limit:  pg_dump -Fc -Z0 > /dev/null           (reading the data out, nothing else)
//   default pg_dump:   pg_dump -Fc -f <file>                  (gzip 6 inside: what Capy ran before)
//   backup:            POST /v1/projects/{id}/backups -> artifact stored and its backup row written
//                      (API + queue + worker + pg_dump in an exported snapshot + compression + storage)
//   verification:      backup row written -> job `completed` (artifact read back and checksummed,
//                      decompressed, pg_restore into a throwaway database, inventory compared, dropped)
//   end to end:        POST -> job completed (verified)
//   restore limit:     bare `pg_restore` of the same archive (Capy's artifact, downloaded as the
//                      pg_restore archive) into an empty database; `pg_restore -j 2` beside it,
//                      and `pg_restore -j 2` of the same archive once its data offsets are
//                      written (what verification restores: pg_dump wrote into a pipe, so the
//                      archive has none; apps/worker/src/postgres/archive-offsets.ts)
// Every measured phase starts right after a CHECKPOINT (none pays for the WAL an earlier restore
// left to flush), and the bare restores wait until the verification dropped its throwaway database;
// the bench then prints per-round figures, artifact sizes, the median ratios with their targets, and the
// worker's peak RSS (VmHWM). Targets: backup <= 1.10 x extraction; artifact <= 0.85 x default
// pg_dump's; verification <= 1.2 x restore limit; end to end <= 1.2 x (extraction + restore
// limit); worker peak RSS < 200 MB.
// --storage filesystem (default) | s3: s3 gives the API and worker S3_* variables for an s3rver on
//   this host (startS3Server from @capy/testing), so uploads go through S3Storage's multipart path.
// --compression zstd:1 (default: the worker's default) | zstd:3 | gzip:6 | none: BACKUP_COMPRESSION.
// --encryption age (default: the worker's default) | none: BACKUP_ENCRYPTION (run both to see what
//   encryption costs; the backup ratio and worker RSS are printed either way).
// --scale N: a reference database N times as large (capy_bench_x<N>: pgbench scale 70 N plus 4 N
//   million md5 rows, the same shape as make-bench-db.sh), created on first use, kept afterwards
//   (drop it by hand); shows whether the ratios hold and the RSS stays flat.
// VERIFY_RESTORE_JOBS (and any worker setting) in the environment reaches the worker.
// Usage: pnpm run build && node bench/backup-overhead.mjs [--rounds 3] [--scale 1] [--storage filesystem|s3] [--compression zstd:1] [--encryption age|none]
//        BENCH_DATABASE_URL=postgresql://…/capy_bench to use an existing database (scale 1).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { quoteIdent, withDatabase } from "@capy/db";
import { createTestStack, REPO_ROOT, run, startS3Server, TEST_SERVER_URL, waitFor, withAdminClient } from "@capy/testing";
import { writeDataOffsets } from "../apps/worker/dist/postgres/archive-offsets.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    storage: { type: "string", default: "filesystem" },
    scale: { type: "string", default: "1" },
    compression: { type: "string" },
    encryption: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const scale = Number(values.scale);
const storageBackend = values.storage;
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
if (!Number.isInteger(scale) || scale < 1) throw new Error(`--scale must be a positive integer, got ${values.scale}`);
if (storageBackend !== "filesystem" && storageBackend !== "s3") throw new Error(`--storage must be filesystem or s3, got ${storageBackend}`);
const benchUrl = process.env.BENCH_DATABASE_URL ?? withDatabase(TEST_SERVER_URL, scale === 1 ? "capy_bench" : `capy_bench_x${scale}`);
const benchName = new URL(benchUrl).pathname.slice(1);

async function ensureBenchDatabase() {
  const exists = await withAdminClient((c) => c.query("SELECT 1 FROM pg_database WHERE datname = $1", [benchName]));
  if (exists.rowCount) return;
  const server = benchUrl.replace(/\/[^/]*$/, "");
  if (scale === 1) {
    const script = path.resolve(REPO_ROOT, "..", "shared", "bench", "make-bench-db.sh");
    if (!existsSync(script)) throw new Error(`no ${benchName} database and no ${script} to create it`);
    console.log(`creating ${benchName} with ${script} (a few minutes)…`);
    if (spawnSync("bash", [script, server, benchName], { stdio: "inherit" }).status !== 0) throw new Error("make-bench-db.sh failed");
    return;
  }
  // make-bench-db.sh's shape, `scale` times as large.
  console.log(`creating ${benchName} (${scale} x the reference database; many minutes)…`);
  await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(benchName)}`));
  await run("pgbench", ["-q", "-i", "-s", String(70 * scale), benchUrl]);
  await run("psql", [
    benchUrl,
    "-qc",
    `CREATE TABLE events AS SELECT g AS id, md5(g::text) || md5((g*7)::text) AS payload, (random()*1e9)::bigint AS n, now() - (g || ' seconds')::interval AS at FROM generate_series(1,${4_000_000 * scale}) g; ALTER TABLE events ADD PRIMARY KEY (id); ANALYZE`,
  ]);
}

/**
 * How often the job is polled (ms). Every poll is an API request and a query on the same two cores
 * as the backup: 50 ms polls (20 a second) were the bench's own load inside the figures it took.
 */
const POLL_MS = 500;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms) => (ms / 1000).toFixed(2);
const mb = (bytes) => (bytes / 1e6).toFixed(0);
const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

function peakRssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

/** The worker's JSON log line `msg` of job `jobId` (its fields: phase timings in ms). */
function logOf(worker, jobId, msg) {
  for (const line of worker.logs().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line);
    if (entry.job_id === jobId && entry.msg === msg) return entry;
  }
  return {};
}

/** Runs a command with stdout to `stdoutFile` (or /dev/null); resolves with its wall time (ms). */
function timed(command, args, stdoutFile = "/dev/null") {
  const fd = openSync(stdoutFile, "w");
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", fd, "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      closeSync(fd);
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/**
 * Before each measured phase: a restore writes ~1.6 GB of WAL and leaves the checkpointer
 * flushing it for minutes after (max_wal_size 1 GB here), so whichever phase came next paid for
 * the previous one's writes (a verification right after a round's three bare restores, a bare
 * restore right after the verification and its DROP DATABASE). Each phase starts with none.
 */
const checkpoint = () => withAdminClient((c) => c.query("CHECKPOINT"));

/** Bare pg_restore of `archive` into a fresh empty database (jobs: -j); returns ms, then drops it. */
async function restoreLimit(archive, jobs, round) {
  const database = `capy_bench_restore_${process.pid}_${round}_${jobs}`;
  await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`));
  await checkpoint();
  try {
    return await timed("pg_restore", ["--no-owner", "--no-acl", "--exit-on-error", `--jobs=${jobs}`, "-d", withDatabase(TEST_SERVER_URL, database), archive]);
  } finally {
    await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
  }
}

await ensureBenchDatabase();
const size = await withAdminClient((c) => c.query("SELECT pg_database_size($1) AS s", [benchName]));
console.log(`reference database: ${benchUrl.replace(/\/\/[^@]*@/, "//")} (${mb(Number(size.rows[0].s))} MB, scale ${scale}), ${rounds} rounds`);

const s3 = storageBackend === "s3" ? await startS3Server({ bucket: "capy-bench" }) : undefined;
const workerEnv = {
  ...(values.compression ? { BACKUP_COMPRESSION: values.compression } : {}),
  ...(values.encryption ? { BACKUP_ENCRYPTION: values.encryption } : {}),
};
console.log(
  `storage: ${s3 ? `s3 (s3rver at ${s3.endpoint}, bucket ${s3.bucket}, key prefix bench)` : "filesystem"}; BACKUP_COMPRESSION ${values.compression ?? "(default)"}; BACKUP_ENCRYPTION ${values.encryption ?? "(default)"}`,
);
// The job is polled every POLL_MS; polls of a long job once went above the API's default 600 a
// minute and got 429s until the minute ended. The bench measures backups, not the rate limit.
const stack = await createTestStack({ ...(s3 ? s3.env({ keyPrefix: "bench" }) : {}), ...workerEnv, RATE_LIMIT_PER_MINUTE: "1000000" });
const scratch = mkdtempSync(path.join(os.tmpdir(), "capy-bench-"));
try {
  const tenant = await stack.createTenant("bench", "bench", benchUrl);
  const api = await stack.startApi();
  const worker = await stack.startWorker({ WORKER_CONCURRENCY: "1" });
  const headers = { authorization: `Bearer ${tenant.api_key}`, "content-type": "application/json" };
  const rows = [];
  // Warm-up, not measured: the first read of the database after it was built (or after other
  // work) can come from disk, the later ones from the page cache, which would make round 1's
  // extraction limit slower than every backup measured against it.
  await timed("pg_dump", ["-Fc", "-Z0", benchUrl]);
  for (let round = 1; round <= rounds; round++) {
    const loadBefore = loadAverage();
    const defaultFile = path.join(scratch, `default-${round}.dump`);
    await checkpoint();
    const defaultMs = await timed("pg_dump", ["-Fc", "-f", defaultFile, benchUrl]);
    const defaultBytes = statSync(defaultFile).size;
    rmSync(defaultFile);
    // Right before the backup it is compared with: on a shared machine the load changes within
    // a minute, and a limit measured 25 s earlier (before the default pg_dump) is another load's.
    await checkpoint();
    const extractionMs = await timed("pg_dump", ["-Fc", "-Z0", benchUrl]);
    await checkpoint();

    const created = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, {
      method: "POST",
      headers,
      body: JSON.stringify({ label: `bench ${round}` }),
    });
    const { job } = await created.json();
    const done = await waitFor(
      async () => {
        const body = await (await fetch(`${api.baseUrl}/v1/jobs/${job.id}`, { headers })).json();
        return ["completed", "failed", "canceled"].includes(body.job.state) ? body.job : undefined;
      },
      { timeoutMs: 60 * 60_000, intervalMs: POLL_MS, what: `job ${job.id}` },
    );
    const seenAt = Date.now();
    if (done.state !== "completed") throw new Error(`backup job ended ${done.state}: ${done.error}`);
    // The throwaway database is dropped after the job completed: not while a bare restore is timed.
    await waitFor(() => logOf(worker, job.id, "dropped the throwaway database").drop_ms !== undefined, {
      timeoutMs: 120_000,
      what: "the throwaway database's drop",
    });
    const listed = await (await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, { headers })).json();
    const backup = listed.backups.find((b) => b.label === `bench ${round}`);
    // Server-side timestamps split the job exactly: the backup row is written the moment the
    // artifact is stored; the job completes when verification has restored and compared it.
    const backupMs = Date.parse(backup.created_at) - Date.parse(done.created_at);
    const verifyMs = Date.parse(done.completed_at) - Date.parse(backup.created_at);
    // Likewise server-side: the polls' interval adds nothing to it (client lag: the `seen` phase).
    const endToEndMs = Date.parse(done.completed_at) - Date.parse(done.created_at);

    // The restore limit, of the very archive Capy stored (downloaded as the pg_restore archive).
    const archive = path.join(scratch, `capy-${round}.dump`);
    const download = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups/${backup.id}/download`, { headers });
    await pipeline(Readable.fromWeb(download.body), createWriteStream(archive));
    const restoreMs = await restoreLimit(archive, 1, round);
    const restoreJ2Ms = await restoreLimit(archive, 2, round);
    const offsetsStarted = performance.now();
    const offsets = await writeDataOffsets(archive);
    const offsetsMs = performance.now() - offsetsStarted;
    if (!offsets.written) throw new Error(`the archive's data offsets were not written: ${offsets.reason}`);
    const restoreJ2OffsetsMs = await restoreLimit(archive, 2, `${round}o`);
    const archiveBytes = statSync(archive).size;
    rmSync(archive);
    // Where the time went, from the worker's own log (ms).
    const recorded = logOf(worker, job.id, "backup stored and recorded; verifying it");
    const phases = {
      // POST -> the worker started the job (queue pickup, leases, claim).
      pickup: Date.parse(done.started_at) - Date.parse(done.created_at),
      dump: recorded.dump_ms,
      snapshot: recorded.snapshot_ms,
      stored: recorded.stored_ms,
      record: recorded.record_ms,
      // Counting the source in the dump's snapshot, after the row, beside the read and restore below.
      inventory: logOf(worker, job.id, "source counted").inventory_ms,
      fetch: logOf(worker, job.id, "restoring into a throwaway database").fetch_ms,
      create: logOf(worker, job.id, "restoring into a throwaway database").create_ms,
      restore: logOf(worker, job.id, "restored copy counted").restore_ms,
      count: logOf(worker, job.id, "restored copy counted").inventory_ms,
      drop: logOf(worker, job.id, "dropped the throwaway database").drop_ms,
      // completed_at (set in the completing transaction) -> the worker logged it committed -> this
      // client saw it: a commit waiting for its WAL flush behind the restore's writes shows here.
      commit: Date.parse(logOf(worker, job.id, "backup verified: it restores to what the source held").time) - Date.parse(done.completed_at),
      seen: seenAt - Date.parse(done.completed_at),
    };
    const row = {
      round,
      phases,
      extractionMs,
      defaultMs,
      defaultBytes,
      backupMs,
      artifactBytes: backup.size_bytes,
      archiveBytes,
      verifyMs,
      endToEndMs,
      restoreMs,
      restoreJ2Ms,
      offsetsMs,
      restoreJ2OffsetsMs,
      load: `${loadBefore} -> ${loadAverage()}`,
    };
    rows.push(row);
    console.log(
      `round ${round}: extraction ${seconds(extractionMs)} s  default pg_dump ${seconds(defaultMs)} s (${mb(defaultBytes)} MB)  backup ${seconds(backupMs)} s (${mb(backup.size_bytes)} MB ${backup.compression}${backup.encryption ? `+${backup.encryption}` : ""}, archive ${mb(archiveBytes)} MB)  ` +
        `verification ${seconds(verifyMs)} s  end to end ${seconds(endToEndMs)} s  restore limit ${seconds(restoreMs)} s (-j2 ${seconds(restoreJ2Ms)} s; offsets written in ${seconds(offsetsMs)} s, then -j2 ${seconds(restoreJ2OffsetsMs)} s)  load ${row.load}`,
    );
    console.log(
      `         worker phases, s: ${Object.entries(phases)
        .map(([name, ms]) => `${name} ${seconds(ms)}`)
        .join("  ")}`,
    );
  }
  const rss = peakRssKb(worker.child.pid);
  const m = (key) => median(rows.map((r) => r[key]));
  const ratio = (f) => median(rows.map(f));
  console.log(`\nstorage: ${storageBackend}; scale ${scale}; encryption ${values.encryption ?? "(default)"}; medians of ${rounds} rounds`);
  console.log("round  extract_s  default_s  backup_s  verify_s  e2e_s  restore_s  restore_j2_s  offsets_s  offsets_j2_s  artifact_MB  default_MB");
  for (const r of rows) {
    console.log(
      [
        String(r.round).padEnd(5),
        seconds(r.extractionMs).padStart(9),
        seconds(r.defaultMs).padStart(9),
        seconds(r.backupMs).padStart(8),
        seconds(r.verifyMs).padStart(8),
        seconds(r.endToEndMs).padStart(6),
        seconds(r.restoreMs).padStart(9),
        seconds(r.restoreJ2Ms).padStart(12),
        seconds(r.offsetsMs).padStart(9),
        seconds(r.restoreJ2OffsetsMs).padStart(12),
        mb(r.artifactBytes).padStart(11),
        mb(r.defaultBytes).padStart(10),
      ].join("  "),
    );
  }
  const line = (label, value, target) => console.log(`${label.padEnd(62)} ${value}${target ? `  (target ${target})` : ""}`);
  console.log("");
  line("extraction limit (pg_dump -Fc -Z0 > /dev/null), s", seconds(m("extractionMs")));
  line("default pg_dump -Fc, s", seconds(m("defaultMs")));
  line("backup (POST -> artifact stored and recorded), s", seconds(m("backupMs")));
  line("restore limit (bare pg_restore of the archive), s", `${seconds(m("restoreMs"))}  (pg_restore -j 2: ${seconds(m("restoreJ2Ms"))})`);
  line("data offsets written into the archive, s; then pg_restore -j 2, s", `${seconds(m("offsetsMs"))}; ${seconds(m("restoreJ2OffsetsMs"))}`);
  line("verification (stored -> restored, compared, job completed), s", seconds(m("verifyMs")));
  line("end to end (POST -> job completed, verified), s", seconds(m("endToEndMs")));
  console.log(
    `${"worker phases (medians), s".padEnd(62)} ${Object.keys(rows[0].phases)
      .map((name) => `${name} ${seconds(median(rows.map((r) => r.phases[name])))}`)
      .join("  ")}`,
  );
  line("artifact, MB (default pg_dump -Fc; archive decoded)", `${mb(m("artifactBytes"))}  (${mb(m("defaultBytes"))}; ${mb(m("archiveBytes"))})`);
  line("ratio backup / extraction limit", ratio((r) => r.backupMs / r.extractionMs).toFixed(3), "<= 1.10");
  line("ratio backup / default pg_dump -Fc", ratio((r) => r.backupMs / r.defaultMs).toFixed(3));
  line("ratio artifact / default pg_dump -Fc artifact", ratio((r) => r.artifactBytes / r.defaultBytes).toFixed(3), "<= 0.85");
  line("ratio verification / restore limit", ratio((r) => r.verifyMs / r.restoreMs).toFixed(3), "<= 1.2");
  line("ratio verification / pg_restore -j 2", ratio((r) => r.verifyMs / r.restoreJ2Ms).toFixed(3));
  line("ratio verification / pg_restore -j 2 with data offsets", ratio((r) => r.verifyMs / r.restoreJ2OffsetsMs).toFixed(3));
  line("ratio end to end / (extraction + restore limit)", ratio((r) => r.endToEndMs / (r.extractionMs + r.restoreMs)).toFixed(3), "<= 1.2");
  line("worker peak RSS (VmHWM), MB", (rss / 1024).toFixed(1), "< 200");
  line("load average (1, 5, 15 min) at the end", loadAverage());
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await stack.stop();
  await s3?.close();
}
