import { createHash } from "node:crypto";
// The authorization matrix, generated from the API itself: every operation of the served OpenAPI
// document (so every new endpoint is covered without touching this file) × every kind of
// credential, against the built API process over real HTTP. Expected statuses follow from the
// operation's `x-required-scope` and which tenant its path parameters name. Answers to other
// tenants must be 404s indistinguishable from a missing id's. The matrix is printed.
import { Readable } from "node:stream";
import { PROJECT_SCOPES, SCOPES, type Scope } from "@capy/contracts";
import { createApiKey, newId, recipientFingerprint, revokeApiKey } from "@capy/db";
import { backupArtifactKey, createStorage } from "@capy/storage";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiResponse, type Harness, insertBackupRow, request, startHarness } from "../test/harness.js";
import { createSessionIssuer, type SessionIssuer } from "../test/sessions.js";

interface Operation {
  method: string;
  path: string;
  operationId: string;
  scope: Scope | undefined;
  successStatus: number;
  /** True when the request body has required fields. */
  needsBody: boolean;
}

type Outcome = "success" | 401 | 403 | 404;
interface Credential {
  name: string;
  header?: string;
  /** Expected outcome for an operation. */
  expect(op: Operation): Outcome;
}

/** Bodies for operations whose body has required fields; a new such operation must add one. */
const BODIES: Record<string, unknown> = {
  putDefaultScheduledBackup: { cron_hour: 2, cron_minute: 30, is_active: true },
  createApiKey: { name: "matrix", scopes: ["jobs:read"] },
  // Names the target project's backup (a new preview; other tenants get 404 for the project first).
  createRestore: () => ({ backup_id: params.backupID }),
  // Test stacks allow local webhook targets (WEBHOOK_ALLOW_INSECURE/PRIVATE_TARGETS).
  createWebhook: { url: "http://127.0.0.1:9/hook", events: ["*"] },
  // A key the project does not have yet (adding one twice is a 409).
  createEncryptionRecipient: () => ({ label: "matrix", public_key: unusedRecipients.pop() }),
};

/**
 * Operations that change their target for good (a canceled job stays canceled, and canceling it
 * again is a 409): each request gets a fresh target, made by the project key.
 */
const FRESH_TARGETS: Record<string, () => Promise<Record<string, string>>> = {
  cancelJob: async () => {
    const created = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key });
    return { jobID: (created.body as { job: { id: string } }).job.id };
  },
  deleteBackup: async () => ({ backupID: await disposableBackup() }),
  deletePreviewDatabase: async () => ({ previewID: await disposablePreview() }),
  deleteWebhook: async () => ({ webhookID: await projectWebhook() }),
  // A redelivered delivery is pending, and redelivering a pending one is a 409.
  redeliverWebhookDelivery: async () => ({ deliveryID: await finishedDelivery(params.webhookID!) }),
  deleteEncryptionRecipient: async () => ({ recipientID: await projectRecipient() }),
};

const MEMBER_SCOPES: readonly Scope[] = ["backups:read", "backups:write", "jobs:read", "projects:read"];

let h: Harness;
let issuer: SessionIssuer;
let operations: Operation[];
let credentials: Credential[];
/** Values of path parameters naming the target tenant's resources, and missing ones. */
let params: Record<string, string>;
/** The credential header to send for an operation. */
let headerFor: (credential: Credential, op: Operation) => string | undefined;
const MISSING: Record<string, string> = {
  id: "prj_missing",
  orgID: "org_missing",
  jobID: "job_missing",
  backupID: "bkp_missing",
  keyID: "key_missing",
  previewID: "pvw_missing",
  webhookID: "whk_missing",
  deliveryID: "dlv_missing",
  recipientID: "rcp_missing",
};
/** age public keys for createEncryptionRecipient, one per request (generating one is async). */
const unusedRecipients: string[] = [];

/** The tenant a path names: organization, project (or one of its resources), or none (/v1/me). */
const tenantOf = (op: Operation): "organization" | "project" | "none" =>
  op.path.includes("{orgID}") ? "organization" : /\{(id|jobID|backupID)\}/.test(op.path) ? "project" : "none";

/**
 * Organization-level collections a project key may use within its own project: listing and
 * creating webhooks (it sees and makes only its project's). Their members are hidden (404) from
 * other projects' keys.
 */
const projectShared = (op: Operation): boolean => /\/webhooks$/.test(op.path);

const holds = (scopes: readonly Scope[], op: Operation) => op.scope === undefined || scopes.includes(op.scope);

beforeAll(async () => {
  issuer = await createSessionIssuer();
  h = await startHarness(issuer.env);
  const db = h.stack.db;
  const org = h.tenant.organization_id;
  const sibling = await h.stack.createTenant("acme", "sibling", h.source.url);
  const globex = await h.stack.createTenant("globex", "shop", h.source.url);

  const orgKey = await createApiKey(db, { organizationId: org, name: "matrix org key" });
  const revoked = await createApiKey(db, { organizationId: org, name: "revoked" });
  await revokeApiKey(db, revoked.id);
  const expired = await createApiKey(db, { organizationId: org, name: "expired", expiresAt: new Date(Date.now() - 60_000) });
  const otherOrgKey = await createApiKey(db, { organizationId: globex.organization_id, name: "globex org key" });
  const victim = await createApiKey(db, { organizationId: org, name: "victim of DELETE" });
  /** Per scope, an organization key holding every other scope. */
  const lacking = new Map<Scope, string>();
  for (const scope of SCOPES) {
    lacking.set(scope, (await createApiKey(db, { organizationId: org, name: `without ${scope}`, scopes: SCOPES.filter((s) => s !== scope) })).plaintext);
  }
  const anyScope = (await createApiKey(db, { organizationId: org, name: "jobs only", scopes: ["jobs:read"] })).plaintext;
  for (let i = 0; i < 40; i++) unusedRecipients.push(await identityToRecipient(await generateX25519Identity()));

  // A completed backup with its artifact, and a job, in the target project.
  const backupId = newId("bkp");
  const backupKey = backupArtifactKey(h.tenant.project_id, backupId);
  await createStorage({ storageDir: h.stack.storageDir }).put(backupKey, Readable.from([Buffer.from("dump")]));
  await db.backup.create({
    data: {
      id: backupId,
      organizationId: org,
      projectId: h.tenant.project_id,
      jobId: newId("job"),
      databaseName: h.source.name,
      backupKey,
      sizeBytes: 4n,
      // Downloads are checked against the recorded hash: the artifact's real one.
      sha256: createHash("sha256").update("dump").digest("hex"),
      state: "completed",
    },
  });
  const job = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key });
  params = {
    id: h.tenant.project_id,
    orgID: org,
    jobID: (job.body as { job: { id: string } }).job.id,
    backupID: backupId,
    keyID: victim.id,
    previewID: await disposablePreview(),
  };
  // A webhook of the target project (so its project key may manage it) with a finished delivery.
  params.webhookID = await projectWebhook();
  params.deliveryID = await finishedDelivery(params.webhookID);
  params.recipientID = await projectRecipient();

  const validKey = orgKey.plaintext;
  const badChecksum = validKey.slice(0, -1) + (validKey.endsWith("A") ? "B" : "A");
  const session = (orgId: string, role: string, expiresIn?: number) =>
    issuer.sign({ sub: `usr_${role}`, org: orgId, role }, expiresIn === undefined ? {} : { expiresIn });
  const past = Math.floor(Date.now() / 1000) - 60;
  const unauthenticated = () => 401 as const;

  credentials = [
    { name: "no credentials", expect: unauthenticated },
    { name: "malformed key", header: "capy_live_not-a-key", expect: unauthenticated },
    { name: "bad checksum", header: badChecksum, expect: unauthenticated },
    { name: "revoked key", header: revoked.plaintext, expect: unauthenticated },
    { name: "expired key", header: expired.plaintext, expect: unauthenticated },
    {
      name: "key without scope",
      // For an operation needing no scope, any key works.
      header: "per-operation",
      expect: (op) => (op.scope === undefined ? "success" : 403),
    },
    { name: "other org key", header: otherOrgKey.plaintext, expect: (op) => (tenantOf(op) === "none" ? "success" : 404) },
    {
      name: "sibling project key",
      header: sibling.api_key,
      expect: (op) => (!holds(PROJECT_SCOPES, op) ? 403 : tenantOf(op) === "none" || projectShared(op) ? "success" : 404),
    },
    { name: "organization key", header: validKey, expect: () => "success" },
    { name: "project key", header: h.tenant.api_key, expect: (op) => (holds(PROJECT_SCOPES, op) ? "success" : 403) },
    { name: "admin session", header: await session(org, "admin"), expect: () => "success" },
    { name: "member session", header: await session(org, "member"), expect: (op) => (holds(MEMBER_SCOPES, op) ? "success" : 403) },
    { name: "other org session", header: await session(globex.organization_id, "admin"), expect: (op) => (tenantOf(op) === "none" ? "success" : 404) },
    { name: "expired session", header: await session(org, "admin", past), expect: unauthenticated },
  ];
  headerFor = (credential, op) => (credential.header === "per-operation" ? (op.scope ? lacking.get(op.scope)! : anyScope) : credential.header);

  // The operations, from the document the API serves.
  const doc = (await request(h.api, "GET", "/v1/openapi.json")).body as {
    paths: Record<
      string,
      Record<
        string,
        {
          operationId: string;
          "x-required-scope"?: Scope;
          responses: Record<string, unknown>;
          requestBody?: { content: Record<string, { schema?: { required?: string[] } }> };
        }
      >
    >;
  };
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      operationId: op.operationId,
      scope: op["x-required-scope"],
      successStatus: Number(Object.keys(op.responses).find((code) => code.startsWith("2"))),
      needsBody: (op.requestBody?.content["application/json"]?.schema?.required?.length ?? 0) > 0,
    })),
  );
});

afterAll(async () => {
  await h?.stop();
  await issuer?.cleanup();
});

/** A verified backup with its artifact in the target project, for DELETE. */
async function disposableBackup(): Promise<string> {
  const id = newId("bkp");
  const key = backupArtifactKey(h.tenant.project_id, id);
  await createStorage({ storageDir: h.stack.storageDir }).put(key, Readable.from([Buffer.from("dump")]));
  await insertBackupRow(h, { id, backupKey: key, sizeBytes: 4n, verificationState: "verified" });
  return id;
}

/** A ready preview of the target project (its database is never made: no worker runs here). */
async function disposablePreview(): Promise<string> {
  const id = newId("pvw");
  await h.stack.db.previewDatabase.create({
    data: {
      id,
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      name: "matrix",
      databaseName: `capy_pvw_${id.slice(4)}`,
      state: "ready",
      ttlExpiresAt: new Date(Date.now() + 3_600_000),
      passwordEncrypted: h.stack.keyring.seal("matrix-password"),
      host: "127.0.0.1",
      port: 5432,
    },
  });
  return id;
}

/** A webhook of the target project, as the API creates it. */
async function projectWebhook(): Promise<string> {
  const id = newId("whk");
  await h.stack.db.webhook.create({
    data: {
      id,
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      url: "http://127.0.0.1:9/hook",
      events: ["*"],
      secretEncrypted: h.stack.keyring.seal("whsec_matrix"),
    },
  });
  return id;
}

/** A customer encryption recipient of the target project. */
async function projectRecipient(): Promise<string> {
  const id = newId("rcp");
  const publicKey = await identityToRecipient(await generateX25519Identity());
  await h.stack.db.encryptionRecipient.create({
    data: { id, projectId: h.tenant.project_id, label: "matrix", publicKey, fingerprint: recipientFingerprint(publicKey) },
  });
  return id;
}

/** A failed delivery of `webhookId`, which may be redelivered. */
async function finishedDelivery(webhookId: string): Promise<string> {
  const id = newId("dlv");
  await h.stack.db.webhookDelivery.create({
    data: {
      id,
      webhookId,
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      eventId: newId("evt"),
      eventType: "job.completed",
      body: "{}",
      state: "failed",
      attempts: 8,
    },
  });
  return id;
}

function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for path parameter {${name}} of ${path}: add one to the matrix test`);
    return value;
  });
}

function send(op: Operation, path: string, credential: string | undefined): Promise<ApiResponse> {
  const body = BODIES[op.operationId];
  const json = op.method === "GET" || op.method === "DELETE" ? undefined : typeof body === "function" ? (body as () => unknown)() : (body ?? {});
  return request(h.api, op.method, path, { key: credential, json });
}

/**
 * The same operation with the path parameter that hides the target pointing at nothing, by the
 * organization key: the first one for credentials of another organization; for a key of a
 * sibling project (same organization), the first below the organization.
 */
function missingVariant(op: Operation, credential: Credential): string {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
  const hidden = credential.name === "sibling project key" ? names.find((name) => name !== "orgID") : names[0];
  return fill(op.path, hidden ? { ...params, [hidden]: MISSING[hidden] ?? `${hidden}_missing` } : params);
}

describe("authorization matrix", () => {
  it("covers every operation of the OpenAPI document", () => {
    expect(operations.length).toBeGreaterThanOrEqual(12);
    for (const op of operations) {
      expect(op.successStatus, op.operationId).toBeGreaterThanOrEqual(200);
      if (op.needsBody) expect(BODIES, `add a request body for ${op.operationId}`).toHaveProperty(op.operationId);
      if (op.path !== "/v1/me") expect(op.scope, `${op.operationId} declares its scope`).toBeDefined();
    }
  });

  it("answers every operation × credential as expected, 404s indistinguishable from missing ids", async () => {
    const orgKey = credentials.find((c) => c.name === "organization key")!.header!;
    const failures: string[] = [];
    const rows: Record<string, Record<string, string>> = {};
    for (const op of operations) {
      const label = `${op.method} ${op.path}`;
      rows[label] = {};
      for (const credential of credentials) {
        const fresh = FRESH_TARGETS[op.operationId];
        const path = fill(op.path, fresh ? { ...params, ...(await fresh()) } : params);
        const outcome = credential.expect(op);
        const expected = outcome === "success" ? op.successStatus : outcome;
        const response = await send(op, path, headerFor(credential, op));
        const ok = response.status === expected;
        rows[label]![credential.name] = ok ? String(response.status) : `${response.status}≠${expected}`;
        if (!ok) failures.push(`${label} with ${credential.name}: ${response.status} ${JSON.stringify(response.body)} (expected ${expected})`);
        if (response.status >= 400) {
          const body = response.body as { error?: unknown } | undefined;
          if (!(body && typeof body.error === "string" && Object.keys(body).length === 1))
            failures.push(`${label} with ${credential.name}: error body ${JSON.stringify(body)}`);
        }
        if (outcome === 404) {
          const missing = await send(op, missingVariant(op, credential), orgKey);
          if (missing.status !== 404 || JSON.stringify(missing.body) !== JSON.stringify(response.body)) {
            failures.push(
              `${label} with ${credential.name}: 404 body ${JSON.stringify(response.body)} differs from a missing id's ${missing.status} ${JSON.stringify(missing.body)}`,
            );
          }
        }
      }
    }
    console.log(
      `authorization matrix (status; "a≠b" = got a, expected b)\n${formatTable(
        rows,
        credentials.map((c) => c.name),
      )}`,
    );
    expect(failures).toEqual([]);
  });
});

function formatTable(rows: Record<string, Record<string, string>>, columns: string[]): string {
  const header = ["operation", ...columns];
  const lines = Object.entries(rows).map(([label, cells]) => [label, ...columns.map((c) => cells[c] ?? "")]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const render = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [render(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(render)].join("\n");
}
