#!/usr/bin/env node
// bench/archive-offsets: what writing the data offsets into a piped archive costs, and what they
// buy pg_restore. The reference database (capy_bench, ~1.2 GB as pg_dump -Fc -Z0) is dumped once
// through a pipe, as a backup's pg_dump writes it (no data offsets in its TOC); then, per round,
// a fresh copy of it gets its offsets written (apps/worker/src/postgres/archive-offsets.ts,
// timed alone: the file is in the page cache, as verification's freshly decoded one is).
// --restore also times bare pg_restore -j 1 and -j 2 of the archive with offsets, into empty
// databases (which VERIFY_RESTORE_JOBS measures best).
// Usage: pnpm run build && flock /work/bench.lock node bench/archive-offsets.mjs [--rounds 3] [--restore]
//        BENCH_DATABASE_URL=postgresql://…/capy_bench to use another database.
import { spawn } from "node:child_process";
import { copyFileSync, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { quoteIdent, withDatabase } from "@capy/db";
import { run, TEST_SERVER_URL, withAdminClient } from "@capy/testing";
import { readArchiveToc, writeDataOffsets } from "../apps/worker/dist/postgres/archive-offsets.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, restore: { type: "boolean", default: false } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
const benchUrl = process.env.BENCH_DATABASE_URL ?? withDatabase(TEST_SERVER_URL, "capy_bench");
const seconds = (ms) => (ms / 1000).toFixed(2);
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** pg_dump -Fc -Z0 with its stdout a pipe, into `file`. */
async function dumpThroughPipe(file) {
  const child = spawn("pg_dump", ["-Fc", "-Z0", benchUrl], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.on("close", resolve));
  await pipeline(child.stdout, createWriteStream(file));
  if ((await exited) !== 0) throw new Error("pg_dump failed");
}

async function restoreInto(archive, jobs) {
  const database = `capy_bench_offsets_${process.pid}_${jobs}`;
  await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`));
  try {
    const started = performance.now();
    await run("pg_restore", ["--no-owner", "--no-acl", "--exit-on-error", `--jobs=${jobs}`, "-d", withDatabase(TEST_SERVER_URL, database), archive]);
    return performance.now() - started;
  } finally {
    await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
  }
}

const scratch = mkdtempSync(path.join(os.tmpdir(), "capy-bench-offsets-"));
try {
  const piped = path.join(scratch, "piped.dump");
  await dumpThroughPipe(piped);
  const toc = await readArchiveToc(piped);
  console.log(`archive: ${(statSync(piped).size / 1e6).toFixed(0)} MB, version ${toc.version}, ${toc.entries.length} TOC entries; load ${load()}`);
  const copy = path.join(scratch, "copy.dump");
  for (let round = 1; round <= rounds; round++) {
    copyFileSync(piped, copy);
    const started = performance.now();
    const result = await writeDataOffsets(copy);
    const ms = performance.now() - started;
    console.log(
      `round ${round}: data offsets ${result.written ? `written for ${result.entries} entries` : `not written: ${result.reason}`} in ${seconds(ms)} s  load ${load()}`,
    );
  }
  if (values.restore) {
    for (const jobs of [1, 2]) console.log(`pg_restore -j ${jobs} of the archive with offsets: ${seconds(await restoreInto(copy, jobs))} s  load ${load()}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
