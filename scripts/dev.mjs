#!/usr/bin/env node
// `pnpm dev`: one command to a running system on a fresh machine (local PostgreSQL and Redis).
// Generates a local encryption key on first run, applies migrations, seeds a demo database,
// organization, project and key (re-sealing the demo's secrets when they were sealed under a
// key this checkout does not have), starts one API, one worker and the web console's Vite dev
// server (proxying /trpc and /v1 to the API), and prints the console's URL and the key with a
// ready-to-paste curl command. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import {
  checkStoredSecrets,
  createDb,
  describeKeys,
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
const consolePort = process.env.CONSOLE_PORT ?? "5173";
const demoDatabaseUrl = process.env.DEMO_DATABASE_URL ?? withDatabase(env.DATABASE_URL, "capy_demo");

await migrateDatabase(env.DATABASE_URL);
const db = createDb(env.DATABASE_URL, { maxConnections: 2 });
// Secrets sealed under a key this checkout does not have (another clone's, or a deleted .data/):
// the demo is disposable, so its cluster and project are re-sealed under the current key.
const before = await checkStoredSecrets(db, env.keyring);
if (before.undecryptable > 0) {
  console.log(
    `the metadata database holds ${before.undecryptable} secret(s) sealed under ${describeKeys(before.unknownKeyIds)}, ` +
      `which this checkout does not have (its key is ${env.keyring.currentKeyId}, from ${process.env.CAPY_ENCRYPTION_KEY ? "CAPY_ENCRYPTION_KEY" : LOCAL_ENCRYPTION_KEY_FILE}); ` +
      "re-sealing the demo cluster and project under it",
  );
}
const demo = await seedDemo(db, { demoDatabaseUrl, keyring: env.keyring });
const after = await checkStoredSecrets(db, env.keyring);
await db.$disconnect();
if (after.undecryptable > 0) {
  console.log(
    `${after.undecryptable} secret(s) of other projects still do not decrypt: re-run \`pnpm --silent admin create-project\` for them, ` +
      "or start with their key in CAPY_ENCRYPTION_KEYS_OLD",
  );
}

// Local development only: webhooks may target receivers on this machine over plain http.
const childEnv = {
  WEBHOOK_ALLOW_INSECURE: "1",
  WEBHOOK_ALLOW_PRIVATE_TARGETS: "1",
  ...process.env,
  CAPY_ENCRYPTION_KEY: env.CAPY_ENCRYPTION_KEY,
  PORT: port,
  LOG_PRETTY: process.env.LOG_PRETTY ?? "1",
};
const base = `http://127.0.0.1:${port}`;
const vite = path.join(path.dirname(createRequire(path.resolve("apps/web/package.json")).resolve("vite/package.json")), "bin", "vite.js");
const children = [
  spawn(process.execPath, ["apps/api/dist/main.js"], { env: childEnv, stdio: "inherit" }),
  spawn(process.execPath, ["apps/worker/dist/main.js"], { env: childEnv, stdio: "inherit" }),
  // --strictPort: the URL printed below is the one it serves, or it stops everything.
  spawn(process.execPath, [vite, "--port", consolePort, "--strictPort", "--clearScreen", "false", "--logLevel", "warn"], {
    cwd: "apps/web",
    env: { ...process.env, CAPY_API_URL: base },
    stdio: "inherit",
  }),
];

console.log(`
Capy Backups is starting: API ${base}  (docs ${base}/docs)

  console       http://127.0.0.1:${consolePort}/   (sign in with the API key below; the built console is also at ${base}/)

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
