// The preview sweep against real PostgreSQL: what a restore leaves when its worker is gone for good
// (the reconciler failed its job, no attempt will clean up) is dropped by the sweep: a preview's
// database and role, and a project restore's staging database, with the project's database taking
// connections again. Expired previews are dropped too, with their preview.deleted event.

import { newId, quoteIdent, withDatabase } from "@capy/db";
import { insertJobRow } from "@capy/jobs";
import { createEmptyDatabase, createTestStack, TEST_SERVER_URL, type TestDatabase, type TestStack, withAdminClient } from "@capy/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverAdmin } from "../postgres/target.js";
import { createPreviewDatabase, createStagingDatabase, stagingNames } from "./databases.js";
import { sweepPreviews } from "./preview-sweep.js";

let stack: TestStack;
let source: TestDatabase;
let tenant: Awaited<ReturnType<TestStack["createTenant"]>>;
const admin = serverAdmin(withDatabase(TEST_SERVER_URL, "postgres"));
const log = pino({ level: "silent" });

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createEmptyDatabase()]);
  tenant = await stack.createTenant("acme", "shop", source.url);
});

afterAll(async () => {
  await stack?.stop();
  await source?.drop();
});

const exists = (name: string) =>
  withAdminClient(async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $1) AS n",
      [name],
    );
    return Number(rows[0]!.n);
  });

async function restoreJob(state: string, previewDatabaseId: string | null, databaseName: string) {
  const project = await stack.db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
  const job = await insertJobRow(stack.db, {
    type: "restore",
    organizationId: project.organizationId,
    projectId: project.id,
    clusterId: project.clusterId,
    databaseName,
    backupId: "bkp_gone",
    previewDatabaseId,
    payload: { restoreOptions: { target_kind: previewDatabaseId ? "new_preview" : "project", tables: null, safety_job_id: null } },
  });
  return stack.db.job.update({ where: { id: job.id }, data: { state } });
}

async function preview(state: string, ttl = new Date(Date.now() + 3_600_000)) {
  const project = await stack.db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
  const id = newId("pvw");
  const databaseName = `capy_pvw_${id.slice(4)}`;
  await createPreviewDatabase(admin, { name: databaseName, password: "pw" });
  return stack.db.previewDatabase.create({
    data: {
      id,
      organizationId: project.organizationId,
      projectId: project.id,
      name: "p",
      databaseName,
      state,
      ttlExpiresAt: ttl,
      passwordEncrypted: stack.keyring.seal("pw"),
      clusterId: project.clusterId,
      host: admin.host,
      port: admin.port,
    },
  });
}

describe("sweepPreviews", () => {
  it("drops what a restore whose job failed for good left: the preview's database and role, a project restore's staging database", async () => {
    const stuck = await preview("creating");
    const failed = await restoreJob("failed", stuck.id, stuck.databaseName);
    await stack.db.previewDatabase.update({ where: { id: stuck.id }, data: { jobId: failed.id } });
    const running = await preview("creating");
    const live = await restoreJob("running", running.id, running.databaseName);
    await stack.db.previewDatabase.update({ where: { id: running.id }, data: { jobId: live.id } });

    const projectJob = await restoreJob("failed", null, source.name);
    const { staging } = stagingNames(projectJob.id);
    await createStagingDatabase(admin, source.name, staging);
    // Its worker died between refusing connections and the swap.
    await withAdminClient((client) => client.query(`ALTER DATABASE ${quoteIdent(source.name)} ALLOW_CONNECTIONS false`));

    const result = await sweepPreviews({ db: stack.db, keyring: stack.keyring, log });
    expect(result.failed).toEqual([stuck.id]);
    expect(result.stagingDropped).toEqual([staging]);
    expect(await exists(stuck.databaseName)).toBe(0);
    expect(await exists(staging)).toBe(0);
    expect(await stack.db.previewDatabase.findUniqueOrThrow({ where: { id: stuck.id } })).toMatchObject({ state: "failed" });
    // A running restore's preview is its worker's business.
    expect(await exists(running.databaseName)).toBe(2);
    const allowed = await withAdminClient((client) =>
      client.query<{ ok: boolean }>("SELECT datallowconn AS ok FROM pg_database WHERE datname = $1", [source.name]),
    );
    expect(allowed.rows[0]!.ok).toBe(true);
    await stack.db.job.update({ where: { id: live.id }, data: { state: "canceled" } });
    await sweepPreviews({ db: stack.db, keyring: stack.keyring, log });
    expect(await exists(running.databaseName)).toBe(0);
  });

  it("drops an expired preview and records preview.deleted", async () => {
    const expired = await preview("ready", new Date(Date.now() - 1_000));
    const result = await sweepPreviews({ db: stack.db, keyring: stack.keyring, log });
    expect(result).toMatchObject({ expired: 1, deleted: [expired.id] });
    expect(await exists(expired.databaseName)).toBe(0);
    const event = await stack.db.event.findFirstOrThrow({ where: { type: "preview.deleted" } });
    expect(event.data).toMatchObject({ id: expired.id, state: "deleted" });
  });
});
