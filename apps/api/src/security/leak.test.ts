// No secret at rest or in transit where it does not belong: after a real flow (API keys created,
// a webhook created, rotated and delivering to a real receiver, a project's platform encryption key
// rotated and a customer recipient added, a real backup of a database whose password is known, a
// download, a backup failing on purpose) neither an API key's plaintext, a webhook secret, a
// platform private key (age identity), nor the database password may appear in any row of the
// metadata database (webhook secrets and identities are stored only sealed), in Redis, in the API's or the worker's logs, in a
// job's stdout/stderr/error, in what the webhook receiver got, or in any response body (except
// the ones creating a key or a webhook and rotating its secret, which show it once by design).
import { randomBytes } from "node:crypto";
import { Job } from "@capy/contracts";
import { createApiKey, openEncryptionIdentity, quoteIdent } from "@capy/db";
import {
  createEmptyDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  startWebhookReceiver,
  type TestDatabase,
  type TestStack,
  type WebhookReceiver,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PASSWORD = `Leak-Canary-${randomBytes(12).toString("hex")}`;

let stack: TestStack;
let source: TestDatabase;
let receiver: WebhookReceiver;
/** Every response body of the flow, as text, with whether it may show a key's secret. */
const bodies: Array<{ what: string; text: string; mayShowSecret: boolean }> = [];
const secrets: string[] = [];

/** `postgresql://postgres:<PASSWORD>@host:port/<database>` (the test server trusts any password). */
function withPassword(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function call(key: string, method: string, path: string, json?: unknown, mayShowSecret = false) {
  const response = await fetch(`${stack.api!.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  bodies.push({ what: `${method} ${path} → ${response.status}`, text: bytes.toString("latin1"), mayShowSecret });
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch {
    body = undefined;
  }
  return { status: response.status, body: body as Record<string, unknown> };
}

async function finished(key: string, jobId: string) {
  return waitFor(
    async () => {
      const job = Job.parse((await call(key, "GET", `/v1/jobs/${jobId}`)).body.job);
      return ["completed", "failed", "canceled"].includes(job.state) ? job : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250, what: `job ${jobId} to finish` },
  );
}

beforeAll(async () => {
  [stack, source, receiver] = await Promise.all([createTestStack(), createEmptyDatabase(), startWebhookReceiver()]);
  await withAdminClient(
    (client) =>
      client.query("CREATE TABLE accounts (id int PRIMARY KEY, owner text); INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 100) g"),
    source.url,
  );
  await Promise.all([stack.startApi(), stack.startWorker()]);
});

afterAll(async () => {
  const previews = (await stack?.db.previewDatabase.findMany()) ?? [];
  await stack?.stop();
  await dropDatabasesAndRoles(previews.map((p) => p.databaseName)).catch(() => {});
  await source?.drop();
  await receiver?.close();
});

describe("secrets never leak", () => {
  it("keeps API keys, webhook secrets, platform private keys and database passwords out of rows, Redis, logs, deliveries and responses", async () => {
    const tenant = await stack.createTenant("acme", "shop", withPassword(source.url, source.name));
    const broken = await stack.createTenant("acme", "broken", withPassword(source.url, `capy_missing_${randomBytes(4).toString("hex")}`));
    const orgKey = await createApiKey(stack.db, { organizationId: tenant.organization_id, name: "bootstrap" });
    secrets.push(tenant.api_key, broken.api_key, orgKey.plaintext);

    // A key created over the API, then used for everything else.
    const created = await call(
      orgKey.plaintext,
      "POST",
      `/v1/organizations/${tenant.organization_id}/api-keys`,
      { name: "ci", scopes: ["backups:read", "backups:write", "jobs:read"] },
      true,
    );
    expect(created.status).toBe(201);
    const key = created.body.secret as string;
    secrets.push(key);

    // A webhook receiving every event, its secret rotated once (both secrets sign for a while).
    const hooks = `/v1/organizations/${tenant.organization_id}/webhooks`;
    const hook = await call(orgKey.plaintext, "POST", hooks, { url: receiver.url, events: ["*"], description: "leak check" }, true);
    expect(hook.status).toBe(201);
    const hookId = (hook.body.webhook as { id: string }).id;
    const rotated = await call(orgKey.plaintext, "POST", `${hooks}/${hookId}/rotate-secret`, undefined, true);
    secrets.push(hook.body.secret as string, rotated.body.secret as string);
    expect((await call(orgKey.plaintext, "POST", `${hooks}/${hookId}/test`)).status).toBe(201);
    await waitFor(() => receiver.received.length >= 1, { timeoutMs: 30_000, what: "the ping to arrive" });

    // The platform key rotated (the old one kept, sealed, for older artifacts), a customer recipient added.
    const keys = `/v1/projects/${tenant.project_id}/encryption-keys`;
    expect((await call(key, "POST", `${keys}/rotate`)).status).toBe(201);
    const customer = await identityToRecipient(await generateX25519Identity());
    const recipients = `/v1/projects/${tenant.project_id}/encryption-recipients`;
    expect((await call(key, "POST", recipients, { label: "customer", public_key: customer })).status).toBe(201);

    const backup = await call(key, "POST", `/v1/projects/${tenant.project_id}/backups`, { label: "leak check" });
    const done = await finished(key, (backup.body.job as { id: string }).id);
    expect(done.state, done.error ?? "").toBe("completed");
    const listed = await call(key, "GET", `/v1/projects/${tenant.project_id}/backups`);
    const backupId = (listed.body.backups as Array<{ id: string }>)[0]!.id;
    const download = await call(key, "GET", `/v1/projects/${tenant.project_id}/backups/${backupId}/download`);
    expect(download.status).toBe(200);

    // A restore into a preview: its generated password may show only in its credentials response.
    const restore = await call(key, "POST", `/v1/projects/${tenant.project_id}/restores`, { backup_id: backupId });
    const restored = await finished(key, (restore.body.job as { id: string }).id);
    expect(restored.state, restored.error ?? "").toBe("completed");
    const credentials = await call(
      orgKey.plaintext,
      "GET",
      `/v1/projects/${tenant.project_id}/preview-databases/${restored.preview_database_id}/credentials`,
      undefined,
      true,
    );
    const previewPassword = (credentials.body.credentials as { password: string }).password;
    expect(previewPassword.length).toBeGreaterThanOrEqual(32);

    const failing = await call(key, "POST", `/v1/projects/${broken.project_id}/backups`);
    const failed = await finished(key, (failing.body.job as { id: string }).id);
    expect(failed.state).toBe("failed");
    expect(failed.error).toBeTruthy();

    // The jobs' events reach the receiver too (their data holds the jobs' stderr and errors).
    await waitFor(() => ["job.completed", "job.failed", "backup.completed"].every((type) => receiver.received.some((r) => r.event === type)), {
      timeoutMs: 60_000,
      what: "the job events at the webhook receiver",
    });

    await call(key, "GET", `/v1/projects/${tenant.project_id}/jobs?limit=100`);
    await call(key, "GET", `/v1/projects/${broken.project_id}/jobs?limit=100`);
    await call(orgKey.plaintext, "GET", `/v1/organizations/${tenant.organization_id}/api-keys`);
    await call(orgKey.plaintext, "GET", `/v1/organizations/${tenant.organization_id}/audit-events`);
    await call(key, "GET", "/v1/me");
    await call(orgKey.plaintext, "GET", hooks);
    await call(orgKey.plaintext, "GET", `${hooks}/${hookId}`);
    await call(orgKey.plaintext, "GET", `${hooks}/${hookId}/deliveries?limit=100`);
    await call(orgKey.plaintext, "PATCH", `${hooks}/${hookId}`, { description: "still leak check" });
    await call(key, "GET", keys);
    await call(key, "GET", recipients);
    await call("capy_live_wrong", "GET", "/v1/me");

    // Every platform identity there is (both projects', the rotated one's too), opened from its
    // sealed column: each must be the private half of a public key the API lists.
    const platformKeys = await stack.db.projectEncryptionKey.findMany();
    expect(platformKeys.length).toBeGreaterThanOrEqual(3);
    const identities = await Promise.all(platformKeys.map((k) => openEncryptionIdentity(stack.db, stack.keyring, k.id)));
    for (const [i, identity] of identities.entries()) expect(await identityToRecipient(identity)).toBe(platformKeys[i]!.publicKey);

    const needles = [
      ...secrets.map((secret, i) => ({ name: `secret #${i}`, value: secret })),
      ...identities.map((identity, i) => ({ name: `platform identity of ${platformKeys[i]!.id}`, value: identity })),
      // Any age identity at all, in whatever case (no secret key of any kind belongs in these places).
      { name: "an age identity", value: "AGE-SECRET-KEY-" },
      { name: "an age identity (lower case)", value: "age-secret-key-" },
      { name: "database password", value: PASSWORD },
      { name: "preview password", value: previewPassword },
    ];
    const leaks: string[] = [];
    const check = (where: string, text: string, allowSecrets = false) => {
      for (const needle of needles) {
        // Responses that show a key, webhook secret or preview password once; never an identity or the database password.
        if (allowSecrets && (needle.name.startsWith("secret #") || needle.name === "preview password")) continue;
        if (text.includes(needle.value)) leaks.push(`${needle.name} in ${where}`);
      }
    };

    // Every row of every table of the metadata database (every column, as text).
    let rowsChecked = 0;
    await withAdminClient(async (client) => {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      for (const { table_name } of tables.rows) {
        const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${quoteIdent(table_name)} t`);
        rowsChecked += rows.rowCount ?? 0;
        for (const { row } of rows.rows) check(`table ${table_name}`, row);
      }
    }, stack.metadata.url);
    expect(rowsChecked).toBeGreaterThan(5);

    // Every job's stdout, stderr and error, as the API reports them.
    const jobs = await stack.db.job.findMany();
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    for (const job of jobs) check(`job ${job.id} output`, [job.lastStdout, job.lastStderr, job.error].join("\n"));

    // Everything this stack keeps in Redis (queue payloads, locks, rate-limit counters).
    const redis = new Redis(stack.redis.url);
    try {
      const keys = await redis.keys(`${stack.redis.prefix}:*`);
      for (const name of keys) {
        check(`redis key name ${name}`, name);
        const type = await redis.type(name);
        const value =
          type === "string"
            ? await redis.get(name)
            : type === "hash"
              ? JSON.stringify(await redis.hgetall(name))
              : type === "list"
                ? JSON.stringify(await redis.lrange(name, 0, -1))
                : type === "zset"
                  ? JSON.stringify(await redis.zrange(name, "0", "-1"))
                  : type === "set"
                    ? JSON.stringify(await redis.smembers(name))
                    : type === "stream"
                      ? JSON.stringify(await redis.xrange(name, "-", "+"))
                      : "";
        check(`redis ${type} ${name}`, value ?? "");
      }
    } finally {
      redis.disconnect();
    }

    check("API logs", stack.api!.logs());
    for (const worker of stack.workers) check("worker logs", worker.logs());
    for (const body of bodies) check(`response ${body.what}`, body.text, body.mayShowSecret);
    for (const delivery of receiver.received) check(`webhook delivery ${delivery.delivery}`, JSON.stringify(delivery));

    // The search itself works: the one response allowed to show a secret does show it, and the
    // failed job did record pg_dump's complaint.
    for (const secret of [key, ...secrets.slice(-2)])
      expect(bodies.filter((body) => body.text.includes(secret)).map((body) => body.mayShowSecret)).toEqual([true]);
    expect(bodies.filter((body) => body.text.includes(previewPassword)).map((body) => body.what)).toEqual([expect.stringContaining("/credentials → 200")]);
    expect(failed.error).toMatch(/does not exist/);
    expect(stack.workers[0]!.logs().length).toBeGreaterThan(0);

    expect(leaks).toEqual([]);
  });
});
