#!/usr/bin/env node
// bench/api-throughput: the API against bare Fastify, measured in the same run.
// Starts the built API (NODE_ENV=production, LOG_LEVEL=warn, rate limit raised out of the way)
// on its own metadata database and Redis key prefix, with one project holding a schedule, 100
// backups and 30 jobs, and a bare Fastify 5 server (bare-server.mjs) answering, on each
// endpoint's path, the JSON the API answered there (captured once at the start), and the list of
// scheduled backups on any other path. Each load is an autocannon process of its own (the
// autocannon CLI, 10 connections), so the load generator, the API and the baseline are three
// processes and this script only waits. Prints req/s, p50, p99, CPU per request (the API's, its
// Postgres backends' and the Redis server's, from /proc), the mean calls per shared statement
// (the API's /metrics) per endpoint, and two ratios to bare Fastify: to bare Fastify
// answering the same JSON on the same path (the one the targets are checked against), and to
// bare Fastify answering the list of scheduled backups, the earlier baseline); then the price of
// each request layer (security headers, rate limiter, request logging, metrics, request ids) as
// bare Fastify with that one layer added, interleaved with bare Fastify alone.
// Interleaved: this machine's throughput drifts between runs (bare Fastify answered 12.9k-30k
// req/s between runs of one script), so each endpoint's --duration is cut into --slices slices,
// and every round of slices runs each GET endpoint, then bare Fastify on its JSON, one after
// another. The drift then falls on the API and its baseline (and on tRPC and REST) alike; each
// row pools its slices (requests / seconds), and the spread of the per-slice ratios is printed
// beside it. POST …/backups has its own rounds, after the GETs (it grows the jobs table).
// Usage: pnpm bench:api-throughput [--duration 10] [--slices 5] [--warmup 2] [--connections 10]
//                                  [--layer-duration 10] [--no-layers] [--no-postgres] [--cpu-prof DIR] [--gc] [--only TEXT]
// --no-postgres: no run of Postgres alone (postgres-alone.mjs: pgbench with each endpoint's statement).
// --cpu-prof DIR: the API runs with node --cpu-prof, its profile written to DIR on exit.
// --gc: the API runs with node --trace-gc-nvp; prints its young-generation collections (scavenges)
// over the whole run: how many, the bytes they promoted to the old generation, their pauses.
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
    slices: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "10" },
    "layer-duration": { type: "string", default: "10" },
    "no-layers": { type: "boolean", default: false },
    "no-postgres": { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    gc: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const HERE = path.dirname(fileURLToPath(import.meta.url));
const AUTOCANNON = path.join(HERE, "..", "..", "node_modules", "autocannon", "autocannon.js");
const CONNECTIONS = Number(args.connections);
const SLICES = Number(args.slices);
/** Seconds of one slice (autocannon takes whole seconds). */
const SLICE_SECONDS = Math.max(1, Math.round(Number(args.duration) / SLICES));

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

/** The CPU time (µs) each of `pids` has used so far, by pid; a process already gone is left out. */
function cpuByPid(pids) {
  const readings = new Map();
  for (const pid of pids) {
    try {
      readings.set(pid, cpuMicros(pid));
    } catch {
      // Exited (a pooled connection closed): left out.
    }
  }
  return readings;
}

/**
 * CPU used since `before` (a cpuByPid reading, µs), summed over the processes still running (one
 * that exited during the slice loses its last ticks: rare after the warm-up).
 */
function cpuSince(before) {
  let used = 0;
  for (const [pid, micros] of cpuByPid(before.keys())) used += micros - before.get(pid);
  return used;
}

/** The Redis server's pid (INFO server's process_id). */
async function redisServerPid(redisUrl) {
  const { createProducerConnection, waitForRedisReady } = await import(new URL("../../packages/queue/dist/index.js", import.meta.url).href);
  const redis = createProducerConnection({ url: redisUrl, prefix: "bench" });
  try {
    // A producer connection refuses commands until it is ready: waited for up to 5,000 ms.
    if (!(await waitForRedisReady(redis, 5_000))) throw new Error(`Redis at ${redisUrl} did not answer within 5 s`);
    return Number(/^process_id:(\d+)/m.exec(await redis.info("server"))[1]);
  } finally {
    // Closed on failure too: an open connection would keep this script from exiting.
    redis.disconnect();
  }
}

/**
 * Reads the pids of the processes serving the API besides itself: its Postgres backends (the
 * metadata database's connections, read from pg_stat_activity at each call, i.e. before each
 * slice) and the Redis server. Their CPU per request shows what a request costs the whole
 * machine: a POST's commit and BullMQ's add script run there, on the same cores as the API and
 * the load.
 */
async function backingPids(db, databaseName, redisUrl) {
  const redisPid = await redisServerPid(redisUrl);
  return async () => {
    const { rows } = await db.pool.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [databaseName]);
    return { postgres: rows.map((row) => row.pid), redis: [redisPid] };
  };
}

/** Warm-up (JIT, pools, the connections' first requests): `--warmup` s of load, not measured. */
async function warmUp(target) {
  if (Number(args.warmup) > 0) await autocannon(target.url, { ...target, seconds: Number(args.warmup) });
}

/**
 * One measured run of `target` for `seconds`: its requests and their seconds, p50 and p99 (ms),
 * how many failed, the server's CPU time (µs; `target.pid`: the machine's load inflates it less
 * than it does latencies), and the shared statements' counters (scraped outside the CPU measured).
 */
async function slice(target, seconds) {
  const sharedBefore = target.metrics && (await sharedStatements(target.metrics));
  const pids = target.backingPids && (await target.backingPids());
  const [postgresBefore, redisBefore] = pids ? [cpuByPid(pids.postgres), cpuByPid(pids.redis)] : [];
  const cpuBefore = cpuMicros(target.pid);
  const result = await autocannon(target.url, { ...target, seconds });
  const cpu = cpuMicros(target.pid) - cpuBefore;
  const backing = pids && { postgres: cpuSince(postgresBefore), redis: cpuSince(redisBefore) };
  const shared = target.metrics && { before: sharedBefore, after: await sharedStatements(target.metrics) };
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) log(`${target.name}: ${bad} of ${result.requests.total} requests failed or were not 2xx`);
  return { requests: result.requests.total, seconds: result.duration, p50: result.latency.p50, p99: result.latency.p99, cpu, backing, shared, bad };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/**
 * A target's slices as one row: req/s over all of them (requests / seconds), CPU µs per request
 * (the server's, and for the API its Postgres backends' and Redis's), the median slice's p50 and
 * p99, each slice's req/s (`slices`), calls per shared statement.
 */
function pooled(name, slices) {
  const requests = slices.reduce((sum, s) => sum + s.requests, 0);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const shared = slices[0].shared && callsPerStatement(sumCounters(slices.map((s) => s.shared.before)), sumCounters(slices.map((s) => s.shared.after)));
  return {
    name,
    rps: requests / seconds,
    p50: median(slices.map((s) => s.p50)),
    p99: median(slices.map((s) => s.p99)),
    cpu: slices.reduce((sum, s) => sum + s.cpu, 0) / requests,
    postgresCpu: slices[0].backing && slices.reduce((sum, s) => sum + s.backing.postgres, 0) / requests,
    redisCpu: slices[0].backing && slices.reduce((sum, s) => sum + s.backing.redis, 0) / requests,
    shared,
    bad: slices.reduce((sum, s) => sum + s.bad, 0),
    slices: slices.map((s) => s.requests / s.seconds),
    load: load(),
  };
}

/** Row `a`'s req/s over row `b`'s, slice by slice (the two measured in the same rounds). */
const perRound = (a, b) => a.slices.map((rps, i) => rps / b.slices[i]);

const sumCounters = (readings) =>
  readings.reduce((sum, r) => ({ calls: sum.calls + r.calls, statements: sum.statements + r.statements }), { calls: 0, statements: 0 });

/**
 * `targets` interleaved: each warmed up, then --slices rounds, each running every target for one
 * slice in turn. Resolves with one pooled row per target, in order.
 */
async function measureInterleaved(targets, sliceSeconds = SLICE_SECONDS) {
  for (const target of targets) await warmUp(target);
  const slicesOf = targets.map(() => []);
  for (let round = 1; round <= SLICES; round++) {
    log(`round ${round} of ${SLICES}: ${targets.map((t) => t.name).join("; ")} (${sliceSeconds} s each)`);
    for (const [i, target] of targets.entries()) slicesOf[i].push(await slice(target, sliceSeconds));
  }
  return targets.map((target, i) => pooled(target.name, slicesOf[i]));
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

/** The lowest and highest of per-round ratios, as percentages. */
const spread = (ratios) => `${fmt(Math.min(...ratios) * 100, 1)}-${fmt(Math.max(...ratios) * 100, 1)} %`;

function printTable(title, rows, baseline) {
  console.log(`\n${title}`);
  console.log(
    "| endpoint | req/s | p50 ms | p99 ms | server CPU µs/req | Postgres, Redis CPU µs/req | calls per shared statement | vs bare, same JSON | vs bare, schedule JSON | target | load avg |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    // No baseline when only the POST ran (the schedule JSON is measured with the GETs).
    const ratio = baseline ? row.rps / baseline : undefined;
    // Checked against bare Fastify answering the same JSON, interleaved with it.
    const same = row.same === undefined ? undefined : row.rps / row.same;
    const checked = same ?? ratio ?? 0;
    const checks = [];
    if (row.goal !== undefined) checks.push(`≥ ${row.goal * 100} % ${checked >= row.goal ? "ok" : "MISSED"}`);
    if (row.p99goal !== undefined) checks.push(`p99 ≤ ${row.p99goal} ms ${row.p99 <= row.p99goal ? "ok" : "MISSED"}`);
    if (row.rest !== undefined)
      checks.push(`≥ 90 % of REST (${fmt((row.rps / row.rest) * 100, 1)} %; rounds ${spread(row.restRounds)}) ${row.rps >= 0.9 * row.rest ? "ok" : "MISSED"}`);
    const roundsText = row.rounds === undefined ? "" : `; rounds ${spread(row.rounds)}`;
    const sameText = same === undefined ? "" : `${fmt(same * 100, 1)} % (bare ${fmt(row.same)} req/s${roundsText})`;
    console.log(
      `| ${row.name} | ${fmt(row.rps)} | ${row.p50} | ${row.p99} | ${fmt(row.cpu)} | ${row.postgresCpu === undefined ? "" : `${fmt(row.postgresCpu)}, ${fmt(row.redisCpu)}`} | ${row.shared === undefined ? "" : fmt(row.shared, 1)} | ${sameText} | ${ratio === undefined ? "" : `${fmt(ratio * 100, 1)} %`} | ${checks.join(", ")} | ${row.load} |`,
    );
  }
}

async function main() {
  console.log(`bench/api-throughput ${new Date().toISOString()} node ${process.version}, ${os.cpus().length} cpus, load average ${load()}`);
  console.log(
    `autocannon: ${CONNECTIONS} connections, ${args.duration} s per endpoint in ${SLICES} interleaved slices after ${args.warmup} s warm-up, each run its own process`,
  );
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
    [...(args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(args["cpu-prof"])}`] : []), ...(args.gc ? ["--trace-gc-nvp"] : [])],
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
  const baseline = { name: "bare Fastify (schedule JSON)", url: `${bare.url}/v1/projects/x/scheduled-backups`, pid: bare.pid };
  // The GETs interleaved, then the POST with its own bare run (every POST leaves a pending job).
  const gets = chosen.filter((t) => t.method === undefined);
  const apiUnderTest = { ...api, backingPids: await backingPids(db, meta.name, redis.url) };
  const rows = [
    ...(await measureEndpoints(gets, [baseline], apiUnderTest, bare)),
    ...(await measureEndpoints(
      chosen.filter((t) => t.method !== undefined),
      [],
      apiUnderTest,
      bare,
    )),
  ];
  await bare.stop();
  cleanups.shift();
  const bareRow = rows.find((row) => row.name === baseline.name);
  printTable(
    `API vs bare Fastify, interleaved (${SLICES} rounds of ${SLICE_SECONDS} s per endpoint; p50 and p99: the median slice's; same JSON: bare Fastify on the endpoint's path and JSON; schedule JSON: bare Fastify answering the list of scheduled backups, ${fmt(bareRow?.rps ?? 0)} req/s)`,
    rows,
    bareRow?.rps,
  );

  if (args.gc) console.log(`\n${describeScavenges(api.logs())}`);
  if (!args["no-postgres"]) await comparePostgresAlone(meta.url, tenant, rows);
  if (!args["no-layers"]) await measureLayers(bodyFile, redis, tenant);
}

/**
 * `targets` on the API (`api.backingPids`: its Postgres backends and Redis, see backingPids),
 * each followed by bare Fastify answering its JSON on its path, and `extra` bare runs, all
 * interleaved; one row per target (its ratio to its bare run pooled, and per round in `rounds`;
 * tRPC's to REST in `rest` and `restRounds`), then the extra rows.
 */
async function measureEndpoints(targets, extra, api, bare) {
  if (targets.length === 0) return [];
  const runs = targets.flatMap((target) => {
    const url = new URL(target.url);
    const same = { ...target, name: `bare: ${target.name}`, url: `${bare.url}${url.pathname}${url.search}`, pid: bare.pid };
    return [{ ...target, pid: api.child.pid, metrics: `${api.baseUrl}/metrics`, backingPids: api.backingPids }, same];
  });
  const measured = await measureInterleaved([...runs, ...extra]);
  const rows = targets.map((target, i) => {
    const [run, same] = [measured[2 * i], measured[2 * i + 1]];
    return { ...run, same: same.rps, rounds: perRound(run, same), goal: target.goal, p99goal: target.p99 };
  });
  for (const [i, target] of targets.entries()) {
    const rest = rows.find((row) => row.name === target.restOf);
    if (rest) Object.assign(rows[i], { rest: rest.rps, restRounds: perRound(rows[i], rest) });
  }
  return [...rows, ...measured.slice(2 * targets.length)];
}

/** The API's scavenges, from its --trace-gc-nvp lines (`gc=s … pause=<ms> … promoted=<bytes>`). */
function describeScavenges(output) {
  const scavenges = output.split("\n").filter((line) => line.includes("gc=s "));
  const field = (line, name) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  const pauses = scavenges.map((line) => field(line, "pause"));
  const promoted = scavenges.reduce((sum, line) => sum + field(line, "promoted"), 0);
  const total = pauses.reduce((sum, ms) => sum + ms, 0);
  const longest = pauses.reduce((max, ms) => Math.max(max, ms), 0);
  return (
    `API scavenges (the whole run, bare runs' idle time included): ${scavenges.length}, ${fmt(promoted / 1e6)} MB promoted, ` +
    `pauses ${fmt(total)} ms in all, ${fmt(total / Math.max(1, pauses.length), 2)} ms mean, ${fmt(longest, 1)} ms max`
  );
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
 * /healthz: the probes skip the rate limiter and the request metrics. Every variant is its own
 * server, all started at once and interleaved like the endpoints (--layer-duration cut into
 * --slices slices), so each layer's ratio is to bare Fastify measured in the same rounds.
 */
async function measureLayers(bodyFile, redis, tenant) {
  const variants = ["", "reqid", "metrics", "headers", "ratelimit", "logging", "reqid,metrics,headers,ratelimit"];
  const servers = await Promise.all(variants.map((layers) => startBare(bodyFile, redis, layers)));
  try {
    const targets = variants.map((layers, i) => ({
      name: layers ? `+ ${layers.replaceAll(",", " + ")}` : "bare Fastify",
      url: `${servers[i].url}/v1/projects/${tenant.project_id}/scheduled-backups`,
      headers: { authorization: `Bearer ${tenant.api_key}` },
      pid: servers[i].pid,
    }));
    const [bare, ...layered] = await measureInterleaved(targets, Math.max(1, Math.round(Number(args["layer-duration"]) / SLICES)));
    for (const row of layered) Object.assign(row, { same: bare.rps, rounds: perRound(row, bare) });
    printTable(
      "price of each request layer, interleaved: bare Fastify plus that layer against bare Fastify alone (logging at info: the API's one line per request, to /dev/null)",
      [bare, ...layered],
      bare.rps,
    );
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
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
