#!/usr/bin/env node
// bench/chaos: the long-form chaos run of issue 5. Real API and worker processes (built dist),
// a private redis-server, pgbench source databases (4 projects), and during the run: backups
// fired through the HTTP API (several per database at once), cancels (half while pending, half
// while running), SIGKILLs of random workers (preferring one that is dumping) with replacements,
// and Redis restarts (all keys lost). Afterwards it checks the invariants and prints them as a
// table (see tooling/testing/src/chaos/invariants.ts); exit 1 when one fails.
// Usage: pnpm bench:chaos [--backups 200] [--workers 3] [--kills 20] [--redis-restarts 1]
//        [--cancels 10] [--seed N] [--restore all|N] [--projects 4] [--scale 1]
// The seed fixes the plan (which project, who is killed, which job canceled, when, as fractions
// of the run); timing still varies, so a replay reproduces the plan, not the interleaving.
import { parseArgs } from "node:util";
import { checkInvariants, failedInvariants, formatInvariantTable, randomSeed, runChaos } from "@capy/testing";

const { values } = parseArgs({
  options: {
    backups: { type: "string", default: "200" },
    workers: { type: "string", default: "3" },
    kills: { type: "string", default: "20" },
    "redis-restarts": { type: "string", default: "1" },
    cancels: { type: "string" },
    seed: { type: "string" },
    restore: { type: "string", default: "all" },
    projects: { type: "string", default: "4" },
    scale: { type: "string", default: "5" },
  },
});
const int = (name, value, min = 0) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${value}`);
  return n;
};
const backups = int("backups", values.backups, 1);
const seed = values.seed === undefined ? randomSeed() : int("seed", values.seed);
const options = {
  backups,
  workers: int("workers", values.workers, 1),
  kills: int("kills", values.kills),
  redisRestarts: int("redis-restarts", values["redis-restarts"]),
  // Default: 5 % of the backups, at least 2 (one pending, one running).
  cancels: values.cancels === undefined ? Math.max(2, Math.round(backups / 20)) : int("cancels", values.cancels),
  seed,
  projects: int("projects", values.projects, 1),
  pgbenchScale: int("scale", values.scale, 1),
  restore: values.restore === "all" ? "all" : int("restore", values.restore, 0),
};
// Exit through process.exit on Ctrl-C, so the run's exit handlers stop its private PostgreSQL,
// redis-server, API and workers.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
console.log(`chaos seed ${seed} (replay with --seed ${seed})`);
const started = Date.now();
const run = await runChaos({ ...options, log: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`) });
const rows = checkInvariants(run);
console.log(`\n${formatInvariantTable(rows)}\n`);
const failed = failedInvariants(rows);
console.log(failed.length === 0 ? "every invariant held" : `${failed.length} invariants FAILED (seed ${seed})`);
process.exit(failed.length === 0 ? 0 : 1);
