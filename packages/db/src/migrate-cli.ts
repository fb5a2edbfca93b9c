#!/usr/bin/env node
// `pnpm db:migrate`: applies migrations to DATABASE_URL, creating that database if missing.
import { loadDbEnv } from "./env.js";
import { migrateDatabase } from "./migrate.js";
import { parsePostgresUrl } from "./postgres-url.js";

const { DATABASE_URL } = loadDbEnv();
const { host, port, database } = parsePostgresUrl(DATABASE_URL);
await migrateDatabase(DATABASE_URL);
console.log(`migrations applied to ${database} on ${host}:${port}`);
