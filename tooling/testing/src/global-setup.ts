// vitest's globalSetup (vitest.config.ts): tags the run, and at its end drops every database the
// run created, templates included, so a test run leaves the shared server as it found it.
import { quoteIdent } from "@capy/db";
import { withAdminClient } from "./postgres.js";
import { beginTestRun } from "./test-run.js";

export async function setup(): Promise<() => Promise<void>> {
  const run = beginTestRun();
  return async () => {
    await withAdminClient(async (client) => {
      // Names are `<prefix>_<run>_…` and the template `capy_test_tpl_<migrations>_<run>`.
      const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE strpos(datname, $1) > 0", [`_${run}`]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    });
  };
}
