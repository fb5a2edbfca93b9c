#!/usr/bin/env node
// bench/api-throughput: the API against bare Fastify, measured in the same run.
// Starts the built API (NODE_ENV=production, LOG_LEVEL=warn, rate limit raised out of the way)
// on its own metadata database and Redis key prefix, with one project holding a schedule, 100
// backups and 30 jobs, and a bare Fastify 5 server (bare-server.mjs) answering, on each
// endpoint's path, the JSON the API answered there (captured once at the start), and the list of
// scheduled backups on any other path. Each load is an autocannon process of its own (the autocannon CLI, 10
// connections), so the load generator, the API and the baseline are three processes and this
// script only waits. Prints req/s, p50, p99 and the mean calls per shared statement (the API's /metrics) per endpoint, and two ratios to bare Fastify: to
// bare Fastify answering the same JSON on the same path (measured right after the endpoint;
// the one the targets are checked against), and to bare Fastify answering the list of
// scheduled backups (mean of a bare run before and after the API runs, the earlier baseline);
// then the price of each request layer (security headers, rate limiter, request logging,
// metrics, request ids) as bare Fastify with that one layer added.
// Usage: pnpm bench:api-throughput [--duration 10] [--warmup 2] [--connections 10] [--rounds 1]
//                                  [--layer-duration 5] [--no-layers] [--no-same-json] [--no-postgres] [--cpu-prof DIR] [--only TEXT]
// --rounds N: each endpoint N times, each time followed by bare Fastify on the same JSON; the row
//   is the round with the median ratio, and every round's ratio is printed beside it (this
//   machine's run-to-run spread is several points).
// --no-same-json: no bare run per endpoint (only the schedule-JSON baseline).
// --no-postgres: no run of Postgres alone (postgres-alone.mjs: pgbench with each endpoint's statement).
// --cpu-prof DIR: the API runs with node --cpu-prof, its profile written to DIR on exit.
// --only TEXT: only the endpoints whose name contains TEXT (e.g. to profile one of them).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os, { loadavg } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDb, generateEncryptionKey } from "@capy/db";
import { createEmptyDatabase, createMetadataDatabase, createTestRedis, startApi } from "@capy/testing";
import { measurePostgresAlone } from "./postgres-alone.mjs";
import { BACKUPS, seed } from "./seed.mjs";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "10" },
    rounds: { type: "string", default: "1" },
    "layer-duration": { type: "string", default: "5" },
    "no-layers": { type: "boolean", default: false },
    "no-same-json": { type: "boolean", default: false },
    "no-postgres": { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    only: { type: "string" },
  },
});
const HERE = path.dirname(fileURLToPath(import.meta.url));
const AUTOCANNON = path.join(HERE, "..", "..", "node_modules", "autocannon", "autocannon.js");
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);

const cleanups = [];
const log = (...parts) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

/** One autocannon process against `url`; resolves with its JSON result. */
function autocannon(url, { seconds, method = "GET", headers = {}, body } = {}) {
  const argv = [AUTOCANNON, "-c", String(CONNECTIONS), "-d", String(seconds), "-j", "-m", method];
  for (const [name, value] of Object.entries(headers)) argv.push("-H", `${name}=${value}`);
  if (body !== undefined) argv.push("-b", body);
  argv.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited ${code}`))));
  });
}

/** CPU time (user + system) a process has used so far (µs), from /proc; clock ticks are 10 ms. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Warm-up (JIT, pools), then the measured run: req/s, p50, p99 (ms), how many failed, and the
 * server's CPU time per request (µs; `target.pid`), which the machine's load does not inflate
 * as much as it does latencies.
 */
async function measure(target) {
  if (Number(args.warmup) > 0) await autocannon(target.url, { ...target, seconds: Number(args.warmup) });
  // The scrapes of /metrics fall outside the CPU measured.
  const sharedBefore = target.metrics && (await sharedStatements(target.metrics));
  const cpuBefore = cpuMicros(target.pid);
  const result = await autocannon(target.url, { ...target, seconds: Number(args.duration) });
  const cpu = (cpuMicros(target.pid) - cpuBefore) / result.requests.total;
  const shared = target.metrics && callsPerStatement(sharedBefore, await sharedStatements(target.metrics));
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) log(`${target.name}: ${bad} of ${result.requests.total} requests failed or were not 2xx`);
  return { name: target.name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpu, shared, bad, load: load() };
}

/** Calls answered and statements run so far by the API's shared statements (its /metrics: db_shared_statement_calls). */
async function sharedStatements(metricsUrl) {
  const text = await (await fetch(metricsUrl)).text();
  const totals = { sum: 0, count: 0 };
  for (const [, field, value] of text.matchAll(/^db_shared_statement_calls_(sum|count)\{.*\} (\S+)$/gm)) totals[field] += Number(value);
  return { calls: totals.sum, statements: totals.count };
}

/** Mean calls per shared statement between two readings; undefined when the endpoint ran none. */
function callsPerStatement(before, after) {
  const statements = after.statements - before.statements;
  return statements === 0 ? undefined : (after.calls - before.calls) / statements;
}

/**
 * Each target's answer as the API gives it (one request each; the POST leaves one more pending
 * job): method, path, status and JSON body, for the bare server to answer the same.
 */
async function captureAnswers(targets) {
  const answers = [];
  for (const target of targets) {
    const method = target.method ?? "GET";
    const response = await fetch(target.url, { method, headers: target.headers, body: target.body });
    const text = await response.text();
    if (!response.ok) throw new Error(`${target.name}: API answered ${response.status}: ${text}`);
    answers.push({ method, path: new URL(target.url).pathname, status: response.status, body: JSON.parse(text) });
  }
  return answers;
}

/** bare-server.mjs with `layers` (comma-separated, "" for none); resolves once it listens. */
async function startBare(bodyFile, redis, layers = "", answersFile = "") {
  const child = spawn(process.execPath, [path.join(HERE, "bare-server.mjs")], {
    env: {
      ...process.env,
      BENCH_BODY_FILE: bodyFile,
      BENCH_ANSWERS_FILE: answersFile,
      BENCH_LAYERS: layers,
      BENCH_REDIS_URL: redis.url,
      BENCH_REDIS_PREFIX: redis.prefix,
    },
    // Its stdout (the logging layer's lines) goes to /dev/null; the port comes on stderr.
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stderr }).on("line", (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
    child.on("exit", (code) => reject(new Error(`bare server exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function targets(api, tenant) {
  const auth = { authorization: `Bearer ${tenant.api_key}` };
  const project = `${api}/v1/projects/${tenant.project_id}`;
  const trpcInput = encodeURIComponent(JSON.stringify({ id: tenant.project_id }));
  return [
    { name: "GET /healthz", url: `${api}/healthz`, goal: 0.7 },
    { name: "GET /v1/me", url: `${api}/v1/me`, headers: auth, goal: 0.25, p99: 20 },
    { name: "GET …/scheduled-backups", url: `${project}/scheduled-backups`, headers: auth, goal: 0.25, p99: 20 },
    {
      name: "tRPC scheduledBackups.list",
      url: `${api}/trpc/scheduledBackups.list?input=${trpcInput}`,
      headers: auth,
      goal: 0.25,
      p99: 20,
      restOf: "GET …/scheduled-backups",
    },
    { name: `GET …/backups (${BACKUPS})`, url: `${project}/backups`, headers: auth, goal: 0.25, p99: 20 },
    { name: "GET /v1/jobs/{id}", url: `${api}/v1/jobs/${tenant.jobId}`, headers: auth, goal: 0.25, p99: 20 },
    { name: "GET …/jobs", url: `${project}/jobs`, headers: auth, goal: 0.25, p99: 20 },
    // Last: every request leaves a pending job behind (no worker runs).
    { name: "POST …/backups", url: `${project}/backups`, method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}", goal: 0.12 },
  ];
}

const fmt = (n, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function printTable(title, rows, baseline) {
  console.log(`\n${title}`);
  console.log(
    "| endpoint | req/s | p50 ms | p99 ms | server CPU µs/req | calls per shared statement | vs bare, same JSON | vs bare, schedule JSON | target | load avg |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    const ratio = row.rps / baseline;
    // Checked against bare Fastify answering the same JSON when it was measured.
    const same = row.same === undefined ? undefined : row.rps / row.same;
    const checked = same ?? ratio;
    const checks = [];
    if (row.goal !== undefined) checks.push(`≥ ${row.goal * 100} % ${checked >= row.goal ? "ok" : "MISSED"}`);
    if (row.p99goal !== undefined) checks.push(`p99 ≤ ${row.p99goal} ms ${row.p99 <= row.p99goal ? "ok" : "MISSED"}`);
    if (row.rest !== undefined) checks.push(`≥ 90 % of REST (${fmt((row.rps / row.rest) * 100)} %) ${row.rps >= 0.9 * row.rest ? "ok" : "MISSED"}`);
    const roundsText = row.rounds === undefined ? "" : `; rounds ${row.rounds.map((r) => fmt(r * 100, 1)).join(", ")} %`;
    const sameText = same === undefined ? "" : `${fmt(same * 100, 1)} % (bare ${fmt(row.same)} req/s${roundsText})`;
    console.log(
      `| ${row.name} | ${fmt(row.rps)} | ${row.p50} | ${row.p99} | ${fmt(row.cpu)} | ${row.shared === undefined ? "" : fmt(row.shared, 1)} | ${sameText} | ${fmt(ratio * 100, 1)} % | ${checks.join(", ")} | ${row.load} |`,
    );
  }
}

async function main() {
  console.log(`bench/api-throughput ${new Date().toISOString()} node ${process.version}, ${os.cpus().length} cpus, load average ${load()}`);
  console.log(`autocannon: ${CONNECTIONS} connections, ${args.duration} s per endpoint after ${args.warmup} s warm-up, each run its own process`);
  const [meta, source] = await Promise.all([createMetadataDatabase(), createEmptyDatabase()]);
  const redis = createTestRedis();
  cleanups.push(
    () => meta.drop(),
    () => source.drop(),
    () => redis.cleanup(),
  );
  const storageDir = mkdtempSync(path.join(os.tmpdir(), "capy-api-bench-"));
  cleanups.push(async () => rmSync(storageDir, { recursive: true, force: true }));
  const encryptionKey = generateEncryptionKey();
  const db = createDb(meta.url, { maxConnections: 2 });
  cleanups.push(() => db.$disconnect());
  const tenant = await seed(db, source, encryptionKey);

  const api = await startApi(
    {
      DATABASE_URL: meta.url,
      REDIS_URL: redis.url,
      CAPY_REDIS_PREFIX: redis.prefix,
      STORAGE_DIR: storageDir,
      CAPY_ENCRYPTION_KEY: encryptionKey,
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      RATE_LIMIT_PER_MINUTE: "1000000000",
    },
    args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(args["cpu-prof"])}`] : [],
  );
  cleanups.unshift(() => api.stop());
  const list = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/scheduled-backups`, { headers: { authorization: `Bearer ${tenant.api_key}` } });
  if (list.status !== 200) throw new Error(`API answered ${list.status}: ${await list.text()}`);
  const bodyFile = path.join(storageDir, "body.json");
  writeFileSync(bodyFile, await list.text());

  const all = targets(api.baseUrl, tenant);
  const chosen = all.filter(
    (t) => !args.only || t.name.includes(args.only) || (t.restOf && all.some((r) => r.name === t.restOf && r.name.includes(args.only))),
  );
  const answersFile = path.join(storageDir, "answers.json");
  writeFileSync(answersFile, JSON.stringify(await captureAnswers(chosen)));

  const bare = await startBare(bodyFile, redis, "", answersFile);
  cleanups.unshift(() => bare.stop());
  log("bare Fastify");
  const before = await measure({ name: "bare Fastify (before)", url: `${bare.url}/v1/projects/x/scheduled-backups`, pid: bare.pid });
  const rows = [];
  for (const target of chosen) {
    const runs = [];
    for (let round = 1; round <= ROUNDS; round++) runs.push(await measureEndpoint(target, round, api, bare));
    rows.push({ ...medianRun(runs), goal: target.goal, p99goal: target.p99 });
    if (target.restOf) rows.at(-1).rest = rows.find((row) => row.name === target.restOf)?.rps;
  }
  log("bare Fastify");
  const after = await measure({ name: "bare Fastify (after)", url: `${bare.url}/v1/projects/x/scheduled-backups`, pid: bare.pid });
  await bare.stop();
  cleanups.shift();
  const baseline = (before.rps + after.rps) / 2;
  printTable(
    `API vs bare Fastify (same JSON: bare measured right after each endpoint; schedule JSON: mean of the two bare runs, ${fmt(baseline)} req/s)`,
    [before, ...rows, after],
    baseline,
  );

  if (!args["no-postgres"]) await comparePostgresAlone(meta.url, tenant, rows);
  if (!args["no-layers"]) await measureLayers(bodyFile, redis, tenant);
}

/** One round of `target`: the API, then (unless --no-same-json) bare Fastify answering the same JSON right after. */
async function measureEndpoint(target, round, api, bare) {
  const label = ROUNDS > 1 ? `${target.name} (round ${round} of ${ROUNDS})` : target.name;
  log(label);
  const run = await measure({ ...target, pid: api.child.pid, metrics: `${api.baseUrl}/metrics` });
  if (args["no-same-json"]) return run;
  const url = new URL(target.url);
  log(`${label}: bare Fastify, same JSON`);
  const same = await measure({ ...target, name: `bare: ${target.name}`, url: `${bare.url}${url.pathname}${url.search}`, pid: bare.pid });
  return { ...run, same: same.rps };
}

/** The round whose ratio to bare Fastify (same JSON, else req/s alone) is the median, with every round's ratio beside it. */
function medianRun(runs) {
  const ratio = (run) => (run.same === undefined ? run.rps : run.rps / run.same);
  const sorted = [...runs].sort((a, b) => ratio(a) - ratio(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return runs.length === 1 || median.same === undefined ? median : { ...median, rounds: runs.map((run) => ratio(run)) };
}

/** Postgres alone with each endpoint's statement, against the API's rate and the target's. */
async function comparePostgresAlone(url, tenant, rows) {
  const alone = await measurePostgresAlone(url, tenant, { clients: CONNECTIONS, seconds: Number(args.duration), log });
  console.log(`\nPostgres alone (pgbench: ${CONNECTIONS} connections, prepared statements, the endpoint's statement), right after the API runs`);
  console.log("| endpoint | Postgres alone, statements/s | API req/s | API / Postgres alone | target, req/s | Postgres alone / bare, same JSON | load avg |");
  console.log("|---|---|---|---|---|---|---|");
  for (const { name, tps } of alone) {
    const row = rows.find((r) => r.name === name);
    if (!row) continue;
    const target = row.same === undefined ? "" : fmt(row.same * row.goal);
    const share = row.same === undefined ? "" : `${fmt((tps / row.same) * 100, 1)} %`;
    console.log(`| ${name} | ${fmt(tps)} | ${fmt(row.rps)} | ${fmt((row.rps / tps) * 100, 1)} % | ${target} | ${share} | ${load()} |`);
  }
}

/**
 * Bare Fastify plus one of the API's request layers at a time, against bare Fastify alone, on an
 * API path with the tenant's key (the path's answer: the list of scheduled backups). Not on
 * /healthz: the probes skip the rate limiter and the request metrics.
 */
async function measureLayers(bodyFile, redis, tenant) {
  const rows = [];
  for (const layers of ["", "reqid", "metrics", "headers", "ratelimit", "logging", "reqid,metrics,headers,ratelimit"]) {
    const server = await startBare(bodyFile, redis, layers);
    try {
      log(`bare + ${layers || "nothing"}`);
      const target = {
        name: layers ? `+ ${layers.replaceAll(",", " + ")}` : "bare Fastify",
        url: `${server.url}/v1/projects/${tenant.project_id}/scheduled-backups`,
        headers: { authorization: `Bearer ${tenant.api_key}` },
        pid: server.pid,
      };
      const { duration } = args;
      args.duration = args["layer-duration"];
      rows.push(await measure(target).finally(() => (args.duration = duration)));
    } finally {
      await server.stop();
    }
  }
  printTable("price of each request layer: bare Fastify plus that layer (logging at info: two lines per request, to /dev/null)", rows, rows[0].rps);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  for (const cleanup of cleanups)
    await Promise.resolve()
      .then(cleanup)
      .catch((error) => console.error("cleanup:", error.message));
}
