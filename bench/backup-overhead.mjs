#!/usr/bin/env node
// bench/backup-overhead: what a backup through Capy costs over a bare `pg_dump -Fc`.
// On the reference database (../shared/bench/make-bench-db.sh, ~1.5 GB), each round times
//   bare:   pg_dump -Fc -f <file>                                  (the baseline)
//   backup:       POST /v1/projects/{id}/backups -> artifact stored and its backup row written
//                 (API + queue + worker + pg_dump in an exported snapshot + storage)
//   verification: backup row written -> job `completed` (checksum re-read, pg_restore into a
//                 throwaway database, inventory compared, database dropped)
// in the same run, and prints per-round figures, the median ratios against bare, and the worker's
// peak RSS (VmHWM). Targets: backup/bare <= 1.10, worker peak RSS < 200 MB.
// --storage filesystem (default): artifacts under the stack's temporary STORAGE_DIR.
// --storage s3: the API and worker get S3_* variables for an s3rver started on this host by the
//   test harness (startS3Server from @capy/testing), so uploads go through S3Storage's multipart
//   path (8 MiB parts, 2 in flight) over HTTP. s3rver shares the CPU and disk with pg_dump here.
// Usage: pnpm run build && node bench/backup-overhead.mjs [--rounds 3] [--storage filesystem|s3]
//        BENCH_DATABASE_URL=postgresql://…/capy_bench to use an existing database.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT, TEST_SERVER_URL, createTestStack, run, startS3Server, waitFor, withAdminClient } from "@capy/testing";
import { withDatabase } from "@capy/db";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, storage: { type: "string", default: "filesystem" } },
});
const rounds = Number(values.rounds);
const storageBackend = values.storage;
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
if (storageBackend !== "filesystem" && storageBackend !== "s3") throw new Error(`--storage must be filesystem or s3, got ${storageBackend}`);
const benchUrl = process.env.BENCH_DATABASE_URL ?? withDatabase(TEST_SERVER_URL, "capy_bench");

async function ensureBenchDatabase() {
  const name = new URL(benchUrl).pathname.slice(1);
  const exists = await withAdminClient((c) => c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]));
  if (exists.rowCount) return;
  const script = path.resolve(REPO_ROOT, "..", "shared", "bench", "make-bench-db.sh");
  if (!existsSync(script)) throw new Error(`no ${name} database and no ${script} to create it`);
  console.log(`creating ${name} with ${script} (a few minutes)…`);
  const server = benchUrl.replace(/\/[^/]*$/, "");
  const result = spawnSync("bash", [script, server, name], { stdio: "inherit" });
  if (result.status !== 0) throw new Error("make-bench-db.sh failed");
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms) => (ms / 1000).toFixed(2);
const megabytes = (kb) => (kb / 1024).toFixed(1);

function peakRssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

await ensureBenchDatabase();
const size = await withAdminClient((c) => c.query("SELECT pg_size_pretty(pg_database_size($1)) AS s", [new URL(benchUrl).pathname.slice(1)]));
console.log(`reference database: ${benchUrl.replace(/\/\/[^@]*@/, "//")} (${size.rows[0].s}), ${rounds} rounds`);

const s3 = storageBackend === "s3" ? await startS3Server({ bucket: "capy-bench" }) : undefined;
console.log(`storage: ${s3 ? `s3 (s3rver at ${s3.endpoint}, bucket ${s3.bucket}, key prefix bench)` : "filesystem"}`);
const stack = await createTestStack(s3 ? s3.env({ keyPrefix: "bench" }) : {});
const scratch = mkdtempSync(path.join(os.tmpdir(), "capy-bench-"));
try {
  const tenant = await stack.createTenant("bench", "bench", benchUrl);
  const api = await stack.startApi();
  const worker = await stack.startWorker({ WORKER_CONCURRENCY: "1" });
  const headers = { authorization: `Bearer ${tenant.api_key}`, "content-type": "application/json" };
  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    const file = path.join(scratch, `bare-${round}.dump`);
    let started = performance.now();
    await run("pg_dump", ["-Fc", "-f", file, benchUrl]);
    const bareMs = performance.now() - started;
    const bareBytes = statSync(file).size;
    rmSync(file);

    started = performance.now();
    const created = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, { method: "POST", headers, body: JSON.stringify({ label: `bench ${round}` }) });
    const { job } = await created.json();
    const done = await waitFor(
      async () => {
        const body = await (await fetch(`${api.baseUrl}/v1/jobs/${job.id}`, { headers })).json();
        return ["completed", "failed", "canceled"].includes(body.job.state) ? body.job : undefined;
      },
      { timeoutMs: 30 * 60_000, intervalMs: 50, what: `job ${job.id}` },
    );
    const endToEndMs = performance.now() - started;
    if (done.state !== "completed") throw new Error(`backup job ended ${done.state}: ${done.error}`);
    const listed = await (await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, { headers })).json();
    const backup = listed.backups.find((b) => b.label === `bench ${round}`);
    // Server-side timestamps split the job exactly: the backup row is written the moment the
    // artifact is stored; the job completes when verification has restored and compared it.
    const backupMs = Date.parse(backup.created_at) - Date.parse(done.created_at);
    const verifyMs = Date.parse(done.completed_at) - Date.parse(backup.created_at);
    rows.push({ round, bareMs, backupMs, verifyMs, endToEndMs });
    console.log(
      `round ${round}: bare ${seconds(bareMs)} s (${(bareBytes / 1e6).toFixed(0)} MB)  backup ${seconds(backupMs)} s (${(backup.size_bytes / 1e6).toFixed(0)} MB)  ` +
        `verification ${seconds(verifyMs)} s  end to end ${seconds(endToEndMs)} s`,
    );
  }
  const rss = peakRssKb(worker.child.pid);
  console.log(`\nstorage: ${storageBackend}`);
  console.log("round  bare_s  backup_s  verify_s  backup/bare  verify/bare  end_to_end/bare");
  for (const r of rows) {
    console.log(
      `${String(r.round).padEnd(6)} ${seconds(r.bareMs).padStart(6)}  ${seconds(r.backupMs).padStart(8)}  ${seconds(r.verifyMs).padStart(8)}  ` +
        `${(r.backupMs / r.bareMs).toFixed(3).padStart(11)}  ${(r.verifyMs / r.bareMs).toFixed(3).padStart(11)}  ${(r.endToEndMs / r.bareMs).toFixed(3).padStart(15)}`,
    );
  }
  console.log(`\nmedian ratio backup/bare (POST -> artifact stored and recorded): ${median(rows.map((r) => r.backupMs / r.bareMs)).toFixed(3)}  (target <= 1.10)`);
  console.log(`median ratio verification/bare (stored -> restored and compared): ${median(rows.map((r) => r.verifyMs / r.bareMs)).toFixed(3)}`);
  console.log(`median ratio end-to-end/bare (POST -> job completed, verified): ${median(rows.map((r) => r.endToEndMs / r.bareMs)).toFixed(3)}`);
  console.log(`worker peak RSS (VmHWM): ${megabytes(rss)} MB  (target < 200 MB)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await stack.stop();
  await s3?.close();
}
