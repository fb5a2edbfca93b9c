// POST /v1/projects/{id}/restores and the preview-database endpoints against the built API
// process (no worker runs here: jobs stay pending): what is checked before a restore is queued,
// the rows it creates, the PREVIEWS_PER_PROJECT cap, and the preview endpoints' states and 404s.

import { Job, PreviewDatabase } from "@capy/contracts";
import { newId } from "@capy/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, insertBackupRow, request, startHarness } from "../../test/harness.js";
import { createSessionIssuer, type SessionIssuer } from "../../test/sessions.js";

let h: Harness;
let issuer: SessionIssuer;
let admin: string;

beforeAll(async () => {
  issuer = await createSessionIssuer();
  h = await startHarness({ ...issuer.env, PREVIEWS_PER_PROJECT: "3" });
  admin = await issuer.sign({ sub: "usr_admin", org: h.tenant.organization_id, role: "admin" });
});

afterAll(async () => {
  await h?.stop();
  await issuer?.cleanup();
});

function insertBackup(projectId = h.tenant.project_id, verificationState = "verified") {
  return insertBackupRow(h, { projectId, sizeBytes: 1_234n, verificationState });
}

const restores = `/v1/projects/{id}/restores`;
const post = (body: unknown, key = h.tenant.api_key, project = h.tenant.project_id) =>
  request(h.api, "POST", restores.replace("{id}", project), { key, json: body });
const previews = (suffix = "") => `/v1/projects/${h.tenant.project_id}/preview-databases${suffix}`;

describe("POST /v1/projects/{id}/restores", () => {
  it("queues a restore into a new preview: a pending restore job naming a `creating` preview", async () => {
    const backup = await insertBackup();
    const response = await post({ backup_id: backup.id, preview_name: "inspect", ttl_hours: 2 });
    expect(response.status).toBe(201);
    const job = Job.strict().parse((response.body as { job: unknown }).job);
    expect(job).toMatchObject({ type: "restore", state: "pending", project_id: h.tenant.project_id });
    expect(job.preview_database_id).toMatch(/^pvw_/);
    const preview = await request(h.api, "GET", previews(`/${job.preview_database_id}`), { key: h.tenant.api_key });
    const shape = PreviewDatabase.strict().parse((preview.body as { preview_database: unknown }).preview_database);
    expect(shape).toMatchObject({
      name: "inspect",
      state: "creating",
      source_kind: "backup",
      source_backup_id: backup.id,
      source_backup_key: backup.backupKey,
    });
    expect(job.locked_resource).toBe(`database:${job.cluster_id}/${shape.database_name}`);
    const hours = (Date.parse(shape.ttl_expires_at) - Date.parse(shape.created_at)) / 3_600_000;
    expect(hours).toBeCloseTo(2, 2);
    // By backup_key too.
    expect((await post({ backup_key: backup.backupKey })).status).toBe(201);
  });

  it("answers 400 without a backup, 404 for an unknown or another project's backup, 409 for a failed verification unless forced", async () => {
    expectError(await post({}), 400, "one of backup_id or backup_key is required");
    expectError(await post({ backup_id: "bkp_missing" }), 404, "backup not found");
    const sibling = await h.stack.createTenant("acme", "sibling-restores", h.source.url);
    const theirs = await insertBackup(sibling.project_id);
    expectError(await post({ backup_id: theirs.id }), 404, "backup not found");
    expectError(await post({ backup_id: theirs.id }, sibling.api_key), 404, "project not found");
    const failed = await insertBackup(h.tenant.project_id, "failed");
    expectError(await post({ backup_id: failed.id }), 409, /failed verification/);
    await h.stack.db.previewDatabase.deleteMany({ where: { projectId: h.tenant.project_id } });
    expect((await post({ backup_id: failed.id, force: true })).status).toBe(201);
    expectError(await post({ backup_id: failed.id, ttl_hours: 721 }), 400, /ttl_hours/);
    expectError(await post({ backup_id: failed.id, tables: ["pgbench_branches"] }), 400, /schema\.table/);
  });

  it("over the project: 400 without confirm, 403 for an API key, else a safety backup job first, then the restore", async () => {
    const backup = await insertBackup();
    expectError(await post({ backup_id: backup.id, target_kind: "project" }, admin), 400, /"confirm": true/);
    expectError(await post({ backup_id: backup.id, target_kind: "project", confirm: true }), 403, /admin session/);
    const member = await issuer.sign({ sub: "usr_member", org: h.tenant.organization_id, role: "member" });
    expectError(await post({ backup_id: backup.id, target_kind: "project", confirm: true }, member), 403, /admin session/);
    expectError(await post({ backup_id: backup.id, target_kind: "project", confirm: true, tables: ["public.t"] }, admin), 400, /tables/);

    const response = await post({ backup_id: backup.id, target_kind: "project", confirm: true }, admin);
    expect(response.status).toBe(201);
    const job = Job.parse((response.body as { job: unknown }).job);
    expect(job).toMatchObject({ type: "restore", preview_database_id: null, locked_resource: `database:${job.cluster_id}/${h.source.name}` });
    const row = await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    const options = (row.payload as { restoreOptions: { safety_job_id: string; target_kind: string } }).restoreOptions;
    expect(options.target_kind).toBe("project");
    const safety = await h.stack.db.job.findUniqueOrThrow({ where: { id: options.safety_job_id } });
    expect(safety).toMatchObject({ type: "backup", state: "pending", label: `pre-restore ${job.id}`, projectId: h.tenant.project_id });
  });

  it("allows PREVIEWS_PER_PROJECT live previews (409 beyond); a deleted one frees its place", async () => {
    await h.stack.db.previewDatabase.deleteMany({ where: { projectId: h.tenant.project_id } });
    const backup = await insertBackup();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await post({ backup_id: backup.id }));
    expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
    expectError(await post({ backup_id: backup.id }), 409, /at most 3/);
    const first = (made[0]!.body as { job: Job }).job.preview_database_id!;
    await h.stack.db.previewDatabase.update({ where: { id: first }, data: { state: "deleted" } });
    expect((await post({ backup_id: backup.id })).status).toBe(201);
  });
});

describe("preview databases", () => {
  async function insertPreview(state: string) {
    const id = newId("pvw");
    return h.stack.db.previewDatabase.create({
      data: {
        id,
        organizationId: h.tenant.organization_id,
        projectId: h.tenant.project_id,
        name: "p",
        databaseName: `capy_pvw_${id.slice(4)}`,
        state,
        ttlExpiresAt: new Date(Date.now() + 3_600_000),
        passwordEncrypted: h.stack.keyring.seal("s3cret/pw@x"),
        host: "127.0.0.1",
        port: 5432,
      },
    });
  }

  it("lists live previews, gets one, and gives a ready one's credentials (409 before)", async () => {
    const ready = await insertPreview("ready");
    const creating = await insertPreview("creating");
    const gone = await insertPreview("deleted");
    const listed = await request(h.api, "GET", previews(), { key: h.tenant.api_key });
    const ids = (listed.body as { preview_databases: PreviewDatabase[] }).preview_databases.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining([ready.id, creating.id]));
    expect(ids).not.toContain(gone.id);
    const credentials = await request(h.api, "GET", previews(`/${ready.id}/credentials`), { key: h.tenant.api_key });
    expect(credentials.status).toBe(200);
    expect((credentials.body as { credentials: unknown }).credentials).toEqual({
      host: "127.0.0.1",
      port: 5432,
      database: ready.databaseName,
      user: ready.databaseName,
      password: "s3cret/pw@x",
      connection_uri: `postgresql://${ready.databaseName}:s3cret%2Fpw%40x@127.0.0.1:5432/${ready.databaseName}`,
    });
    expectError(await request(h.api, "GET", previews(`/${creating.id}/credentials`), { key: h.tenant.api_key }), 409, /not ready/);
    expectError(await request(h.api, "GET", previews("/pvw_missing"), { key: h.tenant.api_key }), 404, "preview database not found");
  });

  it("DELETE marks a preview deleting (the worker drops it); a second DELETE is a 404, one being restored a 409", async () => {
    const ready = await insertPreview("ready");
    const first = await request(h.api, "DELETE", previews(`/${ready.id}`), { key: h.tenant.api_key });
    expect(first.status).toBe(200);
    expect((first.body as { preview_database: PreviewDatabase }).preview_database.state).toBe("deleting");
    expectError(await request(h.api, "DELETE", previews(`/${ready.id}`), { key: h.tenant.api_key }), 404, "preview database not found");
    const creating = await insertPreview("creating");
    expectError(await request(h.api, "DELETE", previews(`/${creating.id}`), { key: h.tenant.api_key }), 409, /being restored/);
  });

  it("overwriting a preview needs one that is ready or failed", async () => {
    const backup = await insertBackup();
    const creating = await insertPreview("creating");
    expectError(await post({ backup_id: backup.id, target_kind: "preview" }), 400, /preview_database_id/);
    expectError(await post({ backup_id: backup.id, target_kind: "preview", preview_database_id: creating.id }), 409, /being restored/);
    expectError(await post({ backup_id: backup.id, target_kind: "preview", preview_database_id: "pvw_missing" }), 404, "preview database not found");
    const ready = await insertPreview("ready");
    const response = await post({ backup_id: backup.id, target_kind: "preview", preview_database_id: ready.id });
    expect(response.status).toBe(201);
    expect((response.body as { job: Job }).job.preview_database_id).toBe(ready.id);
    expect(await h.stack.db.previewDatabase.findUniqueOrThrow({ where: { id: ready.id } })).toMatchObject({ state: "creating", sourceBackupId: backup.id });
  });
});
