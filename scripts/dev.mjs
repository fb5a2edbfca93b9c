#!/usr/bin/env node
// `pnpm dev`: one command to a running system on a fresh machine (local PostgreSQL and Redis).
// Generates a local encryption key on first run, applies migrations, seeds a demo database,
// organization, project and key, starts one API and one worker, and prints the key with a
// ready-to-paste curl command. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  createDb,
  generateEncryptionKey,
  LOCAL_ENCRYPTION_KEY_FILE,
  loadDbEnv,
  migrateDatabase,
  seedDemo,
  withDatabase,
} from "@capy/db";

if (!process.env.CAPY_ENCRYPTION_KEY && !existsSync(LOCAL_ENCRYPTION_KEY_FILE)) {
  mkdirSync(path.dirname(LOCAL_ENCRYPTION_KEY_FILE), { recursive: true });
  writeFileSync(LOCAL_ENCRYPTION_KEY_FILE, `${generateEncryptionKey()}\n`, { mode: 0o600 });
  console.log(`generated a local encryption key in ${LOCAL_ENCRYPTION_KEY_FILE}`);
}
const env = loadDbEnv();
const port = process.env.PORT ?? "3000";
const demoDatabaseUrl = process.env.DEMO_DATABASE_URL ?? withDatabase(env.DATABASE_URL, "capy_demo");

await migrateDatabase(env.DATABASE_URL);
const db = createDb(env.DATABASE_URL, { maxConnections: 2 });
const demo = await seedDemo(db, { demoDatabaseUrl, encryptionKey: env.CAPY_ENCRYPTION_KEY });
await db.$disconnect();

// Local development only: webhooks may target receivers on this machine over plain http.
const childEnv = {
  WEBHOOK_ALLOW_INSECURE: "1",
  WEBHOOK_ALLOW_PRIVATE_TARGETS: "1",
  ...process.env,
  CAPY_ENCRYPTION_KEY: env.CAPY_ENCRYPTION_KEY,
  PORT: port,
  LOG_PRETTY: process.env.LOG_PRETTY ?? "1",
};
const children = [
  spawn(process.execPath, ["apps/api/dist/main.js"], { env: childEnv, stdio: "inherit" }),
  spawn(process.execPath, ["apps/worker/dist/main.js"], { env: childEnv, stdio: "inherit" }),
];

const base = `http://127.0.0.1:${port}`;
console.log(`
Capy Backups is starting: API ${base}  (docs ${base}/docs)

  organization  ${demo.organization_id}
  project       ${demo.project_id}
  API key       ${demo.api_key}   (shown once; pnpm dev mints a new one each run)

Try:
  curl -s -X POST -H 'Authorization: Bearer ${demo.api_key}' -H 'Content-Type: application/json' \\
    -d '{"label":"first"}' ${base}/v1/projects/${demo.project_id}/backups
  curl -s -H 'Authorization: Bearer ${demo.api_key}' ${base}/v1/projects/${demo.project_id}/backups
`);

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill(signal);
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
for (const child of children) {
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`a process exited (code ${code}); stopping the others`);
      stop("SIGTERM");
      process.exitCode = code ?? 1;
    }
  });
}
