// Databases are created only under operator logins. `admin register-cluster` records a cluster's
// operator login (idempotent by host and port); `admin create-project` needs a registered cluster
// and never touches its login. With VERIFY_DATABASE_URL and PREVIEW_DATABASE_URL set, verification's
// throwaway databases and previews go to that server under its login: here the cluster's own
// registered login cannot even log in, and backups still verify and restore into previews.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Backup, Job, PreviewCredentials, PreviewDatabase } from "@capy/contracts";
import { withDatabase } from "@capy/db";
import {
  createPgbenchDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  pgbenchFingerprint,
  REPO_ROOT,
  run,
  TEST_SERVER_URL,
  type TestDatabase,
  type TestStack,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

let stack: TestStack;
let source: TestDatabase;
const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);
/** The same server under another host name: a separate "server" to the workers. */
const DEDICATED = TEST_SERVER_URL.replace("127.0.0.1", "localhost");

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(1)]);
});

afterAll(async () => {
  const previews = (await stack?.db.previewDatabase.findMany()) ?? [];
  await stack?.stop();
  await dropDatabasesAndRoles(previews.map((p) => p.databaseName)).catch(() => {});
  await source?.drop();
});

/** The operator CLI as scripts run it: `pnpm --silent admin …`. */
async function admin(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: stack.metadata.url, CAPY_ENCRYPTION_KEY: stack.encryptionKey, ...extraEnv };
  return run(process.execPath, [path.join(REPO_ROOT, "packages/db/dist/admin/cli.js"), ...args], env).then(
    (result) => ({ code: 0, ...result }),
    (error: Error) => ({ code: 1, stdout: "", stderr: error.message }),
  );
}

describe("operator logins", () => {
  it("register-cluster is idempotent by host and port; create-project needs it and never replaces its login", async () => {
    const refused = await admin(["create-project", "--org", "acme", "--name", "shop", "--database-url", source.url, "--json"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no cluster is registered for 127.0.0.1:5432; run `admin register-cluster");

    const first = JSON.parse((await admin(["register-cluster", "--admin-url", withDatabase(TEST_SERVER_URL, "postgres"), "--name", "local", "--json"])).stdout);
    expect(Object.keys(first)).toEqual(["cluster_id"]);
    expect(first.cluster_id).toMatch(/^cls_/);
    // Re-registering updates the login, same cluster. A login that cannot connect makes the cluster's
    // own databases impossible to create, which the next test relies on.
    const again = JSON.parse((await admin(["register-cluster", "--admin-url", "postgres://capy_no_such_admin@127.0.0.1:5432/postgres", "--json"])).stdout);
    expect(again).toEqual(first);
    expect(await stack.db.cluster.findUniqueOrThrow({ where: { id: first.cluster_id } })).toMatchObject({
      name: "local",
      adminUser: "capy_no_such_admin",
      adminPasswordEncrypted: null,
    });

    const readerUrl = new URL(source.url);
    readerUrl.username = "shop_reader";
    readerUrl.password = randomBytes(6).toString("hex");
    // A URL with a password comes from the environment, off the command line other users can read.
    const fromEnv = await admin(["create-project", "--org", "acme", "--name", "shop", "--json"], { CAPY_PROJECT_DATABASE_URL: readerUrl.toString() });
    expect(fromEnv.stderr).toBe("");
    const created = JSON.parse(fromEnv.stdout);
    expect(Object.keys(created)).toEqual(["organization_id", "project_id", "api_key"]);
    const project = await stack.db.project.findUniqueOrThrow({ where: { id: created.project_id }, include: { cluster: true } });
    expect(project).toMatchObject({ clusterId: first.cluster_id, dbUser: "shop_reader" });
    expect(project.cluster.adminUser).toBe("capy_no_such_admin");

    // On the command line it still works, with a warning; with neither, the command says where.
    const onArgv = await admin(["create-project", "--org", "acme", "--name", "shop-2", "--database-url", readerUrl.toString(), "--json"]);
    expect(JSON.parse(onArgv.stdout).project_id).toMatch(/^prj_/);
    expect(onArgv.stderr).toMatch(/^warning: --database-url holds a password.*set CAPY_PROJECT_DATABASE_URL instead/);
    expect(onArgv.stderr).not.toContain(readerUrl.password);
    const neither = await admin(["register-cluster", "--json"]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toContain("give the URL in CAPY_ADMIN_URL (or --admin-url <url>)");
  });

  it("verifies and makes previews on VERIFY_DATABASE_URL's and PREVIEW_DATABASE_URL's server, under their logins", async () => {
    const tenant = await stack.createTenant("globex", "shop", source.url, "postgres://capy_no_such_admin@127.0.0.1:5432/postgres");
    await stack.startApi();
    await stack.startWorker({ VERIFY_DATABASE_URL: DEDICATED, PREVIEW_DATABASE_URL: DEDICATED, PREVIEW_SWEEP_INTERVAL_MS: "300" });
    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, {});
    const done = await pollJob(tenant.api_key, Job.parse(created.body.job).id);
    expect(done.state, done.error ?? "").toBe("completed");
    const backup = Backup.parse(((await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`)).body.backups as unknown[])[0]);
    expect(backup.verification_state).toBe("verified");

    const restore = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/restores`, { backup_id: backup.id });
    const restored = await pollJob(tenant.api_key, Job.parse(restore.body.job).id);
    expect(restored.state, restored.error ?? "").toBe("completed");
    const previewPath = `/v1/projects/${tenant.project_id}/preview-databases/${restored.preview_database_id}`;
    const credentials = PreviewCredentials.parse((await api(tenant.api_key, "GET", `${previewPath}/credentials`)).body.credentials);
    expect(credentials.host).toBe("localhost");
    expect(await pgbenchFingerprint(credentials.connection_uri)).toEqual(await pgbenchFingerprint(source.url));

    expect((await api(tenant.api_key, "DELETE", previewPath)).status).toBe(200);
    await waitFor(async () => PreviewDatabase.parse((await api(tenant.api_key, "GET", previewPath)).body.preview_database).state === "deleted", {
      what: "the preview deleted",
    });
    const left = await withAdminClient((client) =>
      client.query("SELECT 1 FROM pg_database WHERE datname = $1 UNION ALL SELECT 1 FROM pg_roles WHERE rolname = $1", [credentials.database]),
    );
    expect(left.rowCount).toBe(0);
  });
});
