#!/usr/bin/env node
// The CPU price of one hot-path read, each way it can be made: Prisma's query API, Prisma's
// $queryRaw (+ camelCase mapping), and @capy/db's hot-paths on the pool under Prisma's adapter.
// Reads the bench tenant's 100 backups and one job by primary key, ROUNDS sequential queries
// each, after a warm-up; prints CPU time (user + system) of this process per query in µs (what
// the API pays; Postgres's own work is in its process) and wall time per query.
// Usage: node bench/api-throughput/query-cost.mjs [--rounds 2000]
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createDb, generateEncryptionKey, readJob, readProjectBackups } from "@capy/db";
import { createEmptyDatabase, createMetadataDatabase } from "@capy/testing";
import { seed } from "./seed.mjs";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "2000" } } });
const ROUNDS = Number(args.rounds);

const camel = (column) => column.replace(/_([a-z0-9])/g, (_match, next) => next.toUpperCase());
const asModelRows = (rows) => rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [camel(k), v])));

async function cost(name, query) {
  for (let i = 0; i < Math.min(200, ROUNDS); i++) await query();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) await query();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  console.log(`| ${name} | ${((used.user + used.system) / ROUNDS).toFixed(0)} | ${((wall * 1000) / ROUNDS).toFixed(0)} | ${loadavg()[0].toFixed(2)} |`);
}

const [meta, source] = await Promise.all([createMetadataDatabase(), createEmptyDatabase()]);
const db = createDb(meta.url, { maxConnections: 2 });
try {
  const tenant = await seed(db, source, generateEncryptionKey());
  const projectId = tenant.project_id;
  console.log(`query-cost ${new Date().toISOString()} node ${process.version}, ${ROUNDS} sequential queries each`);
  console.log("| read | CPU µs/query | wall µs/query | load avg (1 min) |\n|---|---|---|---|");
  await cost("100 backups: Prisma findMany", () => db.backup.findMany({ where: { projectId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] }));
  await cost("100 backups: Prisma $queryRaw + mapping", async () =>
    asModelRows(await db.$queryRaw`SELECT * FROM backups WHERE project_id = ${projectId} ORDER BY created_at DESC, id DESC`),
  );
  await cost("100 backups: hot-paths (pg pool)", () => readProjectBackups(db, projectId));
  await cost("job by id: Prisma findUnique", () => db.job.findUnique({ where: { id: tenant.jobId } }));
  await cost("job by id: Prisma $queryRaw + mapping", async () => asModelRows(await db.$queryRaw`SELECT * FROM jobs WHERE id = ${tenant.jobId}`));
  await cost("job by id: hot-paths (pg pool)", () => readJob(db, tenant.jobId));
} finally {
  await db.$disconnect();
  await Promise.all([meta.drop(), source.drop()]);
}
