#!/usr/bin/env node
// Runs the Prisma CLI offline. Prisma reads the generator's engineType ("client", so no Rust
// query engine is needed) only when the schema's datasource url resolves; without
// DATABASE_URL it silently falls back to the "library" engine and tries to download it from
// binaries.prisma.sh, which this network cannot reach. So give it a local default here.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/capy",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
};
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], {
  cwd: path.join(here, ".."),
  env,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
