// Applies the committed migrations with `prisma migrate deploy`, creating the database first if
// it does not exist. Checks the tables afterwards: a Prisma CLI that cannot reach its engine may
// exit 0 without migrating (see shared/TOOLCHAIN.md).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { parsePostgresUrl, quoteIdent, withDatabase } from "./postgres-url.js";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const { database } = parsePostgresUrl(databaseUrl);
  const admin = new pg.Client({ connectionString: withDatabase(databaseUrl, "postgres") });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
      } catch (error) {
        // Another process created it first: fine.
        if ((error as { code?: string }).code !== "42P04") throw error;
      }
    }
  } finally {
    await admin.end();
  }
}

export async function migrateDatabase(databaseUrl: string): Promise<void> {
  await ensureDatabaseExists(databaseUrl);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(packageRoot, "scripts", "prisma.mjs"), "migrate", "deploy"], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`prisma migrate deploy exited ${code}:\n${text.slice(-4000)}`))));
  });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>("SELECT to_regclass('public.jobs') IS NOT NULL AS ok");
    if (!rows[0]?.ok) throw new Error(`migrations reported success but the jobs table is missing:\n${output}`);
  } finally {
    await client.end();
  }
}
