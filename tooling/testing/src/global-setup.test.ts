// A test run leaves no database behind: what the run's helpers create (a metadata database, its
// template, a source database) is dropped by the global teardown, and only that.
import { afterEach, describe, expect, it } from "vitest";
import { setup } from "./global-setup.js";
import { createEmptyDatabase, createMetadataDatabase, withAdminClient } from "./postgres.js";

const existing = (names: string[]) =>
  withAdminClient(async (client) =>
    (await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1)", [names])).rows.map((row) => row.datname),
  );

describe("the test run's global teardown", () => {
  const outer = process.env.CAPY_TEST_RUN;
  afterEach(() => {
    process.env.CAPY_TEST_RUN = outer;
  });

  it("drops every database the run created, templates included, and no other", async () => {
    const before = await createEmptyDatabase("capy_outer");
    // A nested run of its own, so its teardown leaves this file's databases alone.
    const teardown = await setup();
    const run = process.env.CAPY_TEST_RUN!;
    const [metadata, source] = await Promise.all([createMetadataDatabase(), createEmptyDatabase()]);
    const templates = await withAdminClient((client) =>
      client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'capy_test_tpl_%' AND strpos(datname, $1) > 0", [`_${run}`]),
    );
    const template = templates.rows.map((row) => row.datname);
    expect(template).toHaveLength(1);
    const created = [metadata.name, source.name, ...template];
    expect((await existing(created)).sort()).toEqual(created.sort());

    await teardown();
    expect(await existing(created)).toEqual([]);
    expect(await existing([before.name])).toEqual([before.name]);
    await before.drop();
  });
});
