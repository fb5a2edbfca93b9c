// vitest's globalSetup (vitest.config.ts): tags the run, and at its end drops every database the
// run created, templates included, and deletes its Redis keys, so a test run leaves the shared
// servers as it found them. A run that never reaches its teardown (vitest killed, its output
// piped into `head`) leaves them behind: the next run removes them at its start. Which runs
// ended is told by a lock each run holds on the Postgres server for as long as it lasts (a
// session's advisory lock, released when its connection closes, whatever killed the process),
// so what a run still going made, on this machine or another, is left alone.
import pg from "pg";
import { forceDropDatabase, TEST_SERVER_URL, withAdminClient } from "./postgres.js";
import { deleteRunKeys, runsWithKeys } from "./redis.js";
import { beginTestRun, RUN_TAG_PATTERN } from "./test-run.js";

export async function setup(): Promise<() => Promise<void>> {
  const run = beginTestRun();
  const lock = await holdRunLock(run);
  await dropEndedRuns();
  return async () => {
    await withAdminClient((client) => dropRunDatabases(client, run));
    await deleteRunKeys(run);
    await lock.end();
  };
}

/** The first key of the runs' advisory locks ("Capy"); the second is hashtext(run). */
const RUN_LOCKS = 0x43617079;

/** Run tags in database names: `<prefix>_<run>_…`, and `…_<run>` for a template (test-run.ts). */
const RUN_IN_NAME = new RegExp(`_(${RUN_TAG_PATTERN})(?:_|$)`);

/** A connection holding `run`'s lock until it ends. */
async function holdRunLock(run: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  // A lost connection only ends the lock: the run goes on, and its teardown still drops its databases.
  client.on("error", () => {});
  await client.connect();
  await client.query("SELECT pg_advisory_lock($1, hashtext($2))", [RUN_LOCKS, run]);
  return client;
}

/** Removes the databases and keys of every run whose lock nobody holds: it ended without its teardown. */
async function dropEndedRuns(): Promise<void> {
  await withAdminClient(async (client) => {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ $1", [RUN_IN_NAME.source]);
    const runs = new Set([...rows.map(({ datname }) => RUN_IN_NAME.exec(datname)![1]!), ...(await runsWithKeys())]);
    for (const run of runs) {
      const { rows: taken } = await client.query<{ ended: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ended", [RUN_LOCKS, run]);
      if (!taken[0]!.ended) continue;
      try {
        await dropRunDatabases(client, run);
        await deleteRunKeys(run);
      } finally {
        await client.query("SELECT pg_advisory_unlock($1, hashtext($2))", [RUN_LOCKS, run]);
      }
    }
  });
}

async function dropRunDatabases(client: pg.Client, run: string): Promise<void> {
  // Names are `<prefix>_<run>_…` and the template `capy_test_tpl_<migrations>_<run>`.
  const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE strpos(datname, $1) > 0", [`_${run}`]);
  for (const { datname } of rows) await forceDropDatabase(client, datname);
}
