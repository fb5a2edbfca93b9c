// A test run leaves nothing behind: what the run's helpers create (a metadata database, its
// template, a source database, keys under its Redis prefixes) and its workers' throwaway
// databases are removed by the global teardown, and only that; what a killed run left is
// removed when the next run starts, and only that.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { setup } from "./global-setup.js";
import { createEmptyDatabase, createMetadataDatabase, verifyDatabasePrefix, withAdminClient } from "./postgres.js";
import { createTestRedis, TEST_REDIS_URL } from "./redis.js";

const existing = (names: string[]) =>
  withAdminClient(async (client) =>
    (await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1)", [names])).rows.map((row) => row.datname),
  );

describe("the test run's global teardown", () => {
  const outer = process.env.CAPY_TEST_RUN;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(() => {
    process.env.CAPY_TEST_RUN = outer;
  });
  afterAll(() => {
    redis?.disconnect();
  });

  it("drops every database the run created, templates included, deletes its keys, and no other", async () => {
    const before = await createEmptyDatabase("capy_outer");
    const beforeKey = `${createTestRedis().prefix}:capy-backups:id`;
    await redis.set(beforeKey, "1");
    // A nested run of its own, so its teardown leaves this file's databases alone.
    const teardown = await setup();
    const run = process.env.CAPY_TEST_RUN!;
    const [metadata, source] = await Promise.all([createMetadataDatabase(), createEmptyDatabase()]);
    // A throwaway database a worker of the run left behind (named as the workers name them).
    const throwaway = `${verifyDatabasePrefix()}_${Date.now()}_0a1b2c3d`;
    await withAdminClient((client) => client.query(`CREATE DATABASE ${throwaway}`));
    const key = `${createTestRedis().prefix}:capy-backups:id`;
    await redis.set(key, "1");
    const templates = await withAdminClient((client) =>
      client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'capy_test_tpl_%' AND strpos(datname, $1) > 0", [`_${run}`]),
    );
    const template = templates.rows.map((row) => row.datname);
    expect(template).toHaveLength(1);
    const created = [metadata.name, source.name, throwaway, ...template];
    expect((await existing(created)).sort()).toEqual(created.sort());

    await teardown();
    expect(await existing(created)).toEqual([]);
    expect(await redis.exists(key)).toBe(0);
    expect(await existing([before.name])).toEqual([before.name]);
    expect(await redis.exists(beforeKey)).toBe(1);
    await before.drop();
    await redis.del(beforeKey);
  });

  it("removes, when a run starts, the databases and keys of a run killed before its teardown, and leaves those of a run still going", async () => {
    // A run of its own in another process (the built helpers), killed once it made its databases.
    const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
    const script = `
      const { setup } = await import(${JSON.stringify(path.join(dist, "global-setup.js"))});
      const { createEmptyDatabase, createMetadataDatabase } = await import(${JSON.stringify(path.join(dist, "postgres.js"))});
      await setup();
      const made = await Promise.all([createMetadataDatabase(), createEmptyDatabase()]);
      console.log(JSON.stringify([...made.map((db) => db.name), process.env.CAPY_TEST_RUN]));
      setInterval(() => {}, 60_000);`;
    const killed = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const [line] = (await Promise.race([
      once(createInterface({ input: killed.stdout! }), "line"),
      once(killed, "exit").then(([code]) => Promise.reject(new Error(`the run's process exited (${code}) before making its databases`))),
    ])) as [string];
    const [metadata, source, killedRun] = JSON.parse(line) as [string, string, string];
    const template = (
      await withAdminClient((client) =>
        client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`capy_test_tpl_%_${killedRun}`]),
      )
    ).rows.map((row) => row.datname);
    expect(template).toHaveLength(1);
    killed.kill("SIGKILL");
    await once(killed, "exit");
    expect(await existing([metadata, source, ...template])).toHaveLength(3);
    // And a key under one of its Redis prefixes.
    const killedKey = `capytest_${killedRun}_x:capy-backups:id`;
    await redis.set(killedKey, "1");

    // The outer vitest run is still going (this file's databases and keys are its own).
    const outer = await createEmptyDatabase("capy_outer");
    const outerKey = `${createTestRedis().prefix}:capy-backups:id`;
    await redis.set(outerKey, "1");
    const teardown = await setup();
    expect(await existing([metadata, source, ...template])).toEqual([]);
    expect(await redis.exists(killedKey)).toBe(0);
    expect(await existing([outer.name])).toEqual([outer.name]);
    expect(await redis.exists(outerKey)).toBe(1);
    await teardown();
    await outer.drop();
    await redis.del(outerKey);
  });
});
