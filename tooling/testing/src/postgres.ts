// Real PostgreSQL for tests: every test file gets its own freshly migrated metadata database,
// cloned from a template that is migrated once per migration set and test run (CREATE DATABASE
// … TEMPLATE takes ~100 ms; running migrations takes ~1.5 s). Inside a vitest run every name
// carries the run's tag, so the run's teardown drops all it created (test-run.ts).

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { migrateDatabase, quoteIdent, withDatabase } from "@capy/db";
import pg from "pg";
import { currentTestRun } from "./test-run.js";

/** The shared server tests use; override with TEST_POSTGRES_URL (no database path needed). */
export const TEST_SERVER_URL = (process.env.TEST_POSTGRES_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "/postgres");

function migrationsFingerprint(): string {
  const dbPackage = path.dirname(createRequire(import.meta.url).resolve("@capy/db/package.json"));
  const dir = path.join(dbPackage, "prisma", "migrations");
  const hash = createHash("sha256");
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (name.endsWith(".sql")) hash.update(name).update(readFileSync(path.join(dir, name)));
  }
  return hash.digest("hex").slice(0, 12);
}

export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>, url = TEST_SERVER_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(): Promise<string> {
  const run = currentTestRun();
  const template = `capy_test_tpl_${migrationsFingerprint()}${run ? `_${run}` : ""}`;
  await withAdminClient(async (client) => {
    // Serialise template creation across parallel test files.
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [template]);
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [template]);
      if (exists.rowCount) return;
      const building = `${template}_building`;
      await forceDropDatabase(client, building);
      await migrateDatabase(withDatabase(TEST_SERVER_URL, building));
      await client.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(template)}`);
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [template]);
    }
  });
  return template;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  const run = currentTestRun();
  return `${prefix}_${run ? `${run}_` : ""}${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/**
 * The workers' VERIFY_DATABASE_PREFIX in tests: inside a vitest run it carries the run's tag, so
 * a throwaway database that a killed worker left behind goes with the run (global-setup.ts).
 */
export function verifyDatabasePrefix(): string {
  const run = currentTestRun();
  return `capy_verify${run ? `_${run}` : ""}`;
}

async function dropDatabase(name: string): Promise<void> {
  await withAdminClient((client) => forceDropDatabase(client, name));
}

/** Drops a database if it exists, ending the sessions still connected to it. */
export async function forceDropDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

/** Drops databases and the roles of the same names (preview databases and their roles), if they exist. */
export async function dropDatabasesAndRoles(names: readonly string[], url = TEST_SERVER_URL): Promise<void> {
  await withAdminClient(async (client) => {
    for (const name of names) {
      await forceDropDatabase(client, name);
      await client.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
    }
  }, url);
}

/** A fresh, migrated metadata database of its own. */
export async function createMetadataDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = uniqueName("capy_test");
  await withAdminClient((client) => client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`));
  return { name, url: withDatabase(TEST_SERVER_URL, name), drop: () => dropDatabase(name) };
}

/** An empty database (a tenant's source database, a restore target). */
export async function createEmptyDatabase(prefix = "capy_src"): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await withAdminClient((client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
  return { name, url: withDatabase(TEST_SERVER_URL, name), drop: () => dropDatabase(name) };
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

/** A source database initialised by pgbench at the given scale (1 = 100,000 accounts). */
export async function createPgbenchDatabase(scale = 1): Promise<TestDatabase> {
  const db = await createEmptyDatabase("capy_src");
  await run("pgbench", ["-q", "-i", "-s", String(scale), db.url]);
  return db;
}

/** Per-table row counts and an order-independent checksum of pgbench_accounts. */
export async function pgbenchFingerprint(url: string): Promise<Record<string, string>> {
  return withAdminClient(async (client) => {
    const result: Record<string, string> = {};
    for (const table of ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      result[`${table}.rows`] = rows[0]!.n;
    }
    const { rows } = await client.query<{ sum: string }>("SELECT md5(string_agg(md5(a::text), '' ORDER BY aid)) AS sum FROM pgbench_accounts a");
    result["pgbench_accounts.md5"] = rows[0]!.sum;
    return result;
  }, url);
}
