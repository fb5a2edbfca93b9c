// The limit under the API's reads and its POST: Postgres alone answering the same statements at
// the same concurrency (pgbench, one connection per autocannon connection, prepared statements,
// 2 pgbench threads), on the bench's own metadata database right after the API runs. The API
// cannot answer a request faster than Postgres answers its statement on the same two cores, so
// these rates put the targets (a share of bare Fastify's rate) against what the database allows.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "@capy/testing";

const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;

/** One pgbench script per statement the API runs for that endpoint (ids of the seeded tenant). */
function scripts(tenant) {
  const project = quote(tenant.project_id);
  return [
    { name: "GET …/scheduled-backups", sql: `SELECT * FROM scheduled_backups WHERE project_id = ${project} ORDER BY created_at ASC, id ASC;` },
    { name: "GET …/backups (100)", sql: `SELECT * FROM backups WHERE project_id = ${project} ORDER BY created_at DESC, id DESC;` },
    { name: "GET /v1/jobs/{id}", sql: `SELECT * FROM jobs WHERE id = ${quote(tenant.jobId)};` },
    { name: "GET …/jobs", sql: `SELECT * FROM jobs WHERE project_id = ${project} ORDER BY created_at DESC, id DESC LIMIT 30;` },
    {
      // The job row and its audit event in one statement, committed (synchronous_commit on), as the POST does.
      name: "POST …/backups",
      sql: [
        "WITH job AS (INSERT INTO jobs (id, type, state, phase, max_attempts, cluster_id, locked_resource, organization_id, project_id, payload, created_at, updated_at)",
        `  SELECT 'job_' || md5(random()::text), 'backup', 'pending', 'queued', 3, cluster_id, 'database:' || cluster_id || '/' || database_name, organization_id, id, '{}', now(), now() FROM projects WHERE id = ${project} RETURNING *)`,
        ", audit AS (INSERT INTO audit_events (id, organization_id, project_id, actor_type, actor_id, action, target_type, target_id, metadata)",
        "  SELECT 'aud_' || md5(random()::text), organization_id, project_id, 'api_key', 'key_bench', 'backup.created', 'job', id, '{}' FROM job)",
        "SELECT * FROM job;",
      ].join("\n"),
    },
  ];
}

/** pgbench's transactions per second for `scriptFile`, `clients` connections, `seconds` long. */
async function pgbench(url, scriptFile, clients, seconds) {
  const { stdout } = await run("pgbench", ["-n", "-M", "prepared", "-c", String(clients), "-j", "2", "-T", String(seconds), "-f", scriptFile, url]);
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
  if (!tps) throw new Error(`pgbench printed no tps: ${stdout.slice(-500)}`);
  return Number(tps);
}

/** Rates (statements per second) of Postgres alone for each endpoint's statement. */
export async function measurePostgresAlone(url, tenant, { clients, seconds, log }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "capy-pgbench-"));
  try {
    // The API's POSTs left tens of thousands of new job rows: with the statistics of 31, the
    // planner sorts them all for a page of jobs (100 statements/s instead of tens of thousands).
    await run("psql", ["-qc", "ANALYZE", url]);
    const rows = [];
    for (const { name, sql } of scripts(tenant)) {
      const file = path.join(dir, "statement.sql");
      writeFileSync(file, sql);
      log(`Postgres alone: ${name}`);
      rows.push({ name, tps: await pgbench(url, file, clients, seconds) });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
