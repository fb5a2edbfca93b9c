// Restores end to end: a real API, real worker processes, real pg_dump/pg_restore, real HTTP.
// The project's login has only the documented least privilege (pg_read_all_data, CONNECT on its
// database, which PUBLIC may not connect to), its cluster registered with an operator login.
// Backups are restored into new previews (all tables or some), over a preview, and over the
// project (safety backup first, swap by rename; a corrupted artifact leaves the project as it
// was); previews expire and are deleted; a canceled or killed restore leaves no database or role.
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, open, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Backup, Job, PreviewCredentials, PreviewDatabase } from "@capy/contracts";
import { quoteIdent, withDatabase } from "@capy/db";
import {
  createPgbenchDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  pgbenchFingerprint,
  run,
  type ServiceProcess,
  TEST_SERVER_URL,
  type TestDatabase,
  type TestStack,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionIssuer, type SessionIssuer } from "../apps/api/src/test/sessions.js";
import { e2eApi } from "./support.js";

let stack: TestStack;
let source: TestDatabase;
let otherSource: TestDatabase;
let issuer: SessionIssuer;
let binDir: string;
/** While this file exists, the worker's pg_restore hangs after restoring (a restore "in progress"). */
let slowMarker: string;
let worker: ServiceProcess;
const lpRole = `capy_lp_${randomBytes(4).toString("hex")}`;
const lpPassword = randomBytes(12).toString("hex");
let tenant: { project_id: string; api_key: string; organization_id: string };
let other: { project_id: string; api_key: string };
let backup: Backup;
let sourcePrint: Record<string, string>;

const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);

const WORKER_ENV = {
  WORKER_HEARTBEAT_INTERVAL_MS: "300",
  WORKER_LOCK_DURATION_MS: "3000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  JOB_HEARTBEAT_TIMEOUT_MS: "6000",
  JOB_RECONCILE_INTERVAL_MS: "2000",
  PREVIEW_SWEEP_INTERVAL_MS: "300",
  WORKER_CONCURRENCY: "2",
};

beforeAll(async () => {
  [stack, source, otherSource, issuer] = await Promise.all([createTestStack(), createPgbenchDatabase(1), createPgbenchDatabase(1), createSessionIssuer()]);
  // The documented least privilege of a project's login.
  await withAdminClient(async (client) => {
    await client.query(`CREATE ROLE ${quoteIdent(lpRole)} LOGIN PASSWORD '${lpPassword}'`);
    await client.query(`GRANT pg_read_all_data TO ${quoteIdent(lpRole)}`);
    await client.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(source.name)} FROM PUBLIC`);
    await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(source.name)} TO ${quoteIdent(lpRole)}`);
  });
  const lpUrl = new URL(source.url);
  lpUrl.username = lpRole;
  lpUrl.password = lpPassword;
  tenant = await stack.createTenant("acme", "shop", lpUrl.toString(), TEST_SERVER_URL);
  other = await stack.createTenant("globex", "shop", otherSource.url);
  // pg_restore behind a wrapper that can be made to hang once it has restored.
  binDir = await mkdtemp(path.join(os.tmpdir(), "capy-restore-bin-"));
  slowMarker = path.join(binDir, "slow");
  await symlink("/usr/lib/postgresql/15/bin/pg_dump", path.join(binDir, "pg_dump"));
  const wrapper = path.join(binDir, "pg_restore");
  await writeFile(wrapper, `#!/bin/sh\n/usr/lib/postgresql/15/bin/pg_restore "$@" || exit $?\n[ -e '${slowMarker}' ] && exec sleep 120\nexit 0\n`);
  await chmod(wrapper, 0o755);
  await stack.startApi(issuer.env);
  worker = await stack.startWorker({ ...WORKER_ENV, PG_BIN_DIR: binDir });
});

afterAll(async () => {
  const previews = (await stack?.db.previewDatabase.findMany({ select: { databaseName: true } })) ?? [];
  await stack?.stop();
  await dropDatabasesAndRoles(previews.map((p) => p.databaseName)).catch(() => {});
  await source?.drop();
  await otherSource?.drop();
  await withAdminClient((client) => client.query(`DROP ROLE IF EXISTS ${quoteIdent(lpRole)}`)).catch(() => {});
  await issuer?.cleanup();
  if (binDir) await rm(binDir, { recursive: true, force: true });
});

async function backUp(key: string, projectId: string): Promise<Backup> {
  const created = await api(key, "POST", `/v1/projects/${projectId}/backups`, {});
  const job = await pollJob(key, Job.parse(created.body.job).id);
  expect(job.state, job.error ?? "").toBe("completed");
  const listed = await api(key, "GET", `/v1/projects/${projectId}/backups`);
  return Backup.parse((listed.body.backups as unknown[])[0]);
}

async function restore(key: string, projectId: string, body: Record<string, unknown>): Promise<Job> {
  const response = await api(key, "POST", `/v1/projects/${projectId}/restores`, body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return Job.parse(response.body.job);
}

async function previewOf(key: string, projectId: string, previewId: string): Promise<PreviewDatabase> {
  return PreviewDatabase.parse((await api(key, "GET", `/v1/projects/${projectId}/preview-databases/${previewId}`)).body.preview_database);
}

async function credentialsOf(key: string, projectId: string, previewId: string): Promise<PreviewCredentials> {
  const response = await api(key, "GET", `/v1/projects/${projectId}/preview-databases/${previewId}/credentials`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return PreviewCredentials.parse(response.body.credentials);
}

/** Databases and roles on the server named like a preview, staging or replaced database. */
async function restoreLeftovers(): Promise<{ databases: string[]; roles: string[] }> {
  return withAdminClient(async (client) => {
    const databases = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '^capy_(pvw|restore|replaced)_' ORDER BY 1");
    const roles = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname ~ '^capy_pvw_' ORDER BY 1");
    return { databases: databases.rows.map((r) => r.datname), roles: roles.rows.map((r) => r.rolname) };
  });
}

/** No preview, staging or replaced database or preview role except those of live previews named. */
async function expectOnlyLive(...live: string[]): Promise<void> {
  const mine = new Set((await stack.db.previewDatabase.findMany({ select: { databaseName: true } })).map((p) => p.databaseName));
  const jobs = new Set((await stack.db.job.findMany({ select: { id: true } })).map((j) => j.id.slice(4)));
  const ours = (name: string) => mine.has(name) || jobs.has(name.replace(/^capy_(restore|replaced)_/, ""));
  const leftovers = await restoreLeftovers();
  expect(leftovers.databases.filter(ours).sort()).toEqual([...live].sort());
  expect(leftovers.roles.filter(ours).sort()).toEqual([...live].sort());
}

async function connectAs(url: string, database: string): Promise<string> {
  return withAdminClient(async () => "connected", withDatabase(url, database)).catch((error: Error) => error.message);
}

describe("restores", () => {
  it("backs up and verifies a project whose login has only the documented least privilege", async () => {
    sourcePrint = await pgbenchFingerprint(source.url);
    backup = await backUp(tenant.api_key, tenant.project_id);
    expect(backup.verification_state).toBe("verified");
  });

  it("restores a verified backup into a new preview owned by its own role, which connects to nothing else", async () => {
    const job = await restore(tenant.api_key, tenant.project_id, { backup_id: backup.id, preview_name: "inspect" });
    const done = await pollJob(tenant.api_key, job.id);
    expect(done.state, done.error ?? "").toBe("completed");
    expect(done.type).toBe("restore");
    const preview = await previewOf(tenant.api_key, tenant.project_id, job.preview_database_id!);
    expect(preview).toMatchObject({ state: "ready", name: "inspect", source_backup_id: backup.id });
    const credentials = await credentialsOf(tenant.api_key, tenant.project_id, preview.id);
    expect(credentials).toMatchObject({ database: preview.database_name, user: preview.database_name });
    const psql = await run("psql", [
      credentials.connection_uri,
      "-At",
      "-c",
      "SELECT current_user || ' ' || count(*) FROM pg_tables WHERE tableowner = current_user",
    ]);
    expect(psql.stdout.trim()).toBe(`${preview.database_name} 4`);
    expect(await pgbenchFingerprint(credentials.connection_uri)).toEqual(sourcePrint);

    // Another project's preview, and the source: the preview role may connect to neither.
    const theirs = await backUp(other.api_key, other.project_id);
    const theirJob = await pollJob(other.api_key, (await restore(other.api_key, other.project_id, { backup_id: theirs.id })).id);
    expect(theirJob.state, theirJob.error ?? "").toBe("completed");
    const theirPreview = await previewOf(other.api_key, other.project_id, theirJob.preview_database_id!);
    expect(await connectAs(credentials.connection_uri, theirPreview.database_name)).toMatch(/permission denied for database/);
    expect(await connectAs(credentials.connection_uri, source.name)).toMatch(/permission denied for database/);
    // Its outcome went through the outbox: the job and the preview as served when it committed.
    const events = await eventsOf(tenant.api_key, tenant.project_id);
    expect(events.find((e) => e.type === "restore.completed")?.data).toMatchObject({ id: job.id, state: "completed", type: "restore" });
    expect(events.find((e) => e.type === "preview.ready")?.data).toMatchObject({ id: preview.id, state: "ready" });
    // Another tenant's key sees none of it.
    expect((await api(other.api_key, "GET", `/v1/projects/${tenant.project_id}/preview-databases/${preview.id}/credentials`)).status).toBe(404);
  });

  it("restores only the tables asked for", async () => {
    const job = await pollJob(
      tenant.api_key,
      (await restore(tenant.api_key, tenant.project_id, { backup_key: backup.backup_key, tables: ["public.pgbench_branches"] })).id,
    );
    expect(job.state, job.error ?? "").toBe("completed");
    const credentials = await credentialsOf(tenant.api_key, tenant.project_id, job.preview_database_id!);
    const tables = await run("psql", [
      credentials.connection_uri,
      "-At",
      "-c",
      "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
    ]);
    expect(tables.stdout.trim()).toBe("pgbench_branches");
    const rows = await run("psql", [credentials.connection_uri, "-At", "-c", "SELECT count(*) FROM pgbench_branches"]);
    expect(rows.stdout.trim()).toBe(sourcePrint["pgbench_branches.rows"]);
    const failed = await pollJob(tenant.api_key, (await restore(tenant.api_key, tenant.project_id, { backup_id: backup.id, tables: ["public.nope"] })).id);
    expect(failed).toMatchObject({ state: "failed", retry_classification: "permanent" });
    expect(failed.error).toContain("not in the backup: public.nope");
    await waitFor(async () => (await previewOf(tenant.api_key, tenant.project_id, failed.preview_database_id!)).state === "failed", {
      what: "the failed preview",
    });
  });

  it("overwrites a preview with the same role and credentials", async () => {
    const first = await pollJob(tenant.api_key, (await restore(tenant.api_key, tenant.project_id, { backup_id: backup.id })).id);
    const before = await credentialsOf(tenant.api_key, tenant.project_id, first.preview_database_id!);
    await run("psql", [before.connection_uri, "-c", "DELETE FROM pgbench_accounts WHERE aid <= 500; CREATE TABLE scratch (x int)"]);
    const again = await restore(tenant.api_key, tenant.project_id, {
      backup_id: backup.id,
      target_kind: "preview",
      preview_database_id: first.preview_database_id,
    });
    expect(again.preview_database_id).toBe(first.preview_database_id);
    expect((await pollJob(tenant.api_key, again.id)).state).toBe("completed");
    expect(await credentialsOf(tenant.api_key, tenant.project_id, first.preview_database_id!)).toEqual(before);
    expect(await pgbenchFingerprint(before.connection_uri)).toEqual(sourcePrint);
    expect((await run("psql", [before.connection_uri, "-At", "-c", "SELECT to_regclass('scratch') IS NULL"])).stdout.trim()).toBe("t");
  });

  it("drops a preview's database and role on DELETE (then 404) and when its TTL passes", async () => {
    const listed = (await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/preview-databases`)).body.preview_databases as PreviewDatabase[];
    const ready = listed.filter((p) => p.state === "ready");
    expect(ready.length).toBeGreaterThanOrEqual(3);
    const [deleted, expired, ...kept] = ready;
    const answer = await api(tenant.api_key, "DELETE", `/v1/projects/${tenant.project_id}/preview-databases/${deleted!.id}`);
    expect(answer.status).toBe(200);
    await stack.db.previewDatabase.update({ where: { id: expired!.id }, data: { ttlExpiresAt: new Date(Date.now() - 1_000) } });
    for (const preview of [deleted!, expired!]) {
      await waitFor(async () => (await previewOf(tenant.api_key, tenant.project_id, preview.id)).state === "deleted", { what: `${preview.id} deleted` });
    }
    expect((await api(tenant.api_key, "DELETE", `/v1/projects/${tenant.project_id}/preview-databases/${deleted!.id}`)).status).toBe(404);
    const gone = (await eventsOf(tenant.api_key, tenant.project_id)).filter((e) => e.type === "preview.deleted").map((e) => e.data);
    expect(gone).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: deleted!.id, state: "deleted" }), expect.objectContaining({ id: expired!.id, state: "deleted" })]),
    );
    await expectOnlyLive(...kept.map((p) => p.database_name), ...(await liveOf(other.project_id)));
  });

  it("a canceled restore, and one whose worker is killed, leave no database or role behind", async () => {
    await writeFile(slowMarker, "");
    try {
      const canceled = await restore(tenant.api_key, tenant.project_id, { backup_id: backup.id });
      const preview = await waitForRestoreInProgress(canceled);
      expect((await api(tenant.api_key, "POST", `/v1/jobs/${canceled.id}/cancel`)).status).toBe(200);
      expect((await pollJob(tenant.api_key, canceled.id)).state).toBe("canceled");
      await waitFor(async () => (await previewOf(tenant.api_key, tenant.project_id, preview)).state === "failed", { what: "the canceled preview to fail" });
      await expectOnlyLive(...(await liveOf(tenant.project_id)), ...(await liveOf(other.project_id)));

      const killed = await restore(tenant.api_key, tenant.project_id, { backup_id: backup.id });
      await waitForRestoreInProgress(killed);
      await worker.stop("SIGKILL");
    } finally {
      await unlink(slowMarker);
    }
    worker = await stack.startWorker({ ...WORKER_ENV, PG_BIN_DIR: binDir });
    const killed = (await stack.db.job.findFirstOrThrow({ where: { type: "restore" }, orderBy: { createdAt: "desc" } })).id;
    const taken = await pollJob(tenant.api_key, killed);
    expect(taken).toMatchObject({ state: "completed", attempts: 2 });
    expect(await pgbenchFingerprint((await credentialsOf(tenant.api_key, tenant.project_id, taken.preview_database_id!)).connection_uri)).toEqual(sourcePrint);
    await expectOnlyLive(...(await liveOf(tenant.project_id)), ...(await liveOf(other.project_id)));
  });

  it("over the project: a safety backup first, then the backup's data; a corrupted artifact leaves the project as it was", async () => {
    const admin = await issuer.sign({ sub: "usr_admin", org: tenant.organization_id, role: "admin" });
    const changeSource = (sql: string) => withAdminClient((client) => client.query(sql), source.url);
    await changeSource("DELETE FROM pgbench_accounts WHERE aid <= 1000; UPDATE pgbench_branches SET bbalance = 99");
    const changed = await pgbenchFingerprint(source.url);
    expect(changed).not.toEqual(sourcePrint);

    const job = await restore(admin, tenant.project_id, { backup_id: backup.id, target_kind: "project", confirm: true });
    const done = await pollJob(admin, job.id);
    expect(done.state, done.error ?? "").toBe("completed");
    const safety = await stack.db.backup.findFirstOrThrow({ where: { label: `pre-restore ${job.id}` } });
    expect(safety).toMatchObject({ projectId: tenant.project_id, verificationState: "verified", state: "completed" });
    expect(safety.createdAt.getTime()).toBeLessThan(Date.parse(done.completed_at!));
    expect(await pgbenchFingerprint(source.url)).toEqual(sourcePrint);
    // Database-level privileges came back too: the least-privilege login still backs up.
    const after = await backUp(tenant.api_key, tenant.project_id);
    expect(after.verification_state).toBe("verified");

    await changeSource("UPDATE pgbench_tellers SET tbalance = 7");
    const before = await pgbenchFingerprint(source.url);
    const file = await open(path.join(stack.storageDir, after.backup_key), "r+");
    await file.write(Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(after.size_bytes / 2));
    await file.close();
    const broken = await pollJob(admin, (await restore(admin, tenant.project_id, { backup_id: after.id, target_kind: "project", confirm: true })).id);
    expect(broken.state).toBe("failed");
    // It failed restoring (its safety backup went fine), not before.
    expect(await stack.db.backup.findFirstOrThrow({ where: { label: `pre-restore ${broken.id}` } })).toMatchObject({ verificationState: "verified" });
    expect(broken.error).toMatch(/checksum mismatch|pg_restore/);
    expect(await pgbenchFingerprint(source.url)).toEqual(before);
    await expectOnlyLive(...(await liveOf(tenant.project_id)), ...(await liveOf(other.project_id)));
  });
});

async function eventsOf(key: string, projectId: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  return (await api(key, "GET", `/v1/projects/${projectId}/events?limit=100`)).body.events as Array<{ type: string; data: Record<string, unknown> }>;
}

/** Database names of a project's live (ready) previews. */
async function liveOf(projectId: string): Promise<string[]> {
  return (await stack.db.previewDatabase.findMany({ where: { projectId, state: "ready" } })).map((p) => p.databaseName);
}

/** Waits until the restore is running with its preview database created; returns the preview id. */
async function waitForRestoreInProgress(job: Job): Promise<string> {
  const preview = await stack.db.previewDatabase.findUniqueOrThrow({ where: { id: job.preview_database_id! } });
  await waitFor(
    async () => {
      const row = await stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
      if (row.state !== "running" || row.phase !== "restoring") return false;
      const exists = await withAdminClient((client) => client.query("SELECT 1 FROM pg_database WHERE datname = $1", [preview.databaseName]));
      return (exists.rowCount ?? 0) > 0 && (row.progressBytes ?? 0n) > 0n;
    },
    { timeoutMs: 60_000, what: `restore ${job.id} in progress` },
  );
  return preview.id;
}
