// API key management, /v1/me, session tokens, rate and body limits, security headers and the
// audit log, over real HTTP against the built API process.
import { createHash } from "node:crypto";
import { ApiKey, AuditEvent, PROJECT_SCOPES, PrincipalInfo, SCOPES } from "@capy/contracts";
import { createApiKey, hashApiKey } from "@capy/db";
import { startApi, waitFor } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";
import { createSessionIssuer, type SessionIssuer, unsignedToken } from "../test/sessions.js";

let h: Harness;
let issuer: SessionIssuer;
let orgKey: string;
let keysPath: string;

beforeAll(async () => {
  issuer = await createSessionIssuer();
  h = await startHarness(issuer.env);
  orgKey = (await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "org admin key" })).plaintext;
  keysPath = `/v1/organizations/${h.tenant.organization_id}/api-keys`;
});
afterAll(async () => {
  await h?.stop();
  await issuer?.cleanup();
});

const adminSession = () => issuer.sign({ sub: "usr_admin", org: h.tenant.organization_id, role: "admin" });
const memberSession = () => issuer.sign({ sub: "usr_member", org: h.tenant.organization_id, role: "member" });

describe("API key management", () => {
  it("creates a key whose secret is shown once and works at once", async () => {
    const created = await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "ci", scopes: ["backups:read"], project_id: h.tenant.project_id } });
    expect(created.status).toBe(201);
    const body = created.body as { api_key: unknown; secret: string };
    const key = ApiKey.strict().parse(body.api_key);
    expect(body.secret).toMatch(/^capy_live_/);
    expect(key).toMatchObject({ name: "ci", project_id: h.tenant.project_id, scopes: ["backups:read"], is_active: true, revoked_at: null, expires_at: null });
    expect(body.secret.startsWith(key.key_prefix)).toBe(true);
    expect(JSON.stringify(body.api_key)).not.toContain(hashApiKey(body.secret));
    expect((await request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/backups`, { key: body.secret })).status).toBe(200);

    const listed = await request(h.api, "GET", keysPath, { key: orgKey });
    expect(listed.status).toBe(200);
    const keys = (listed.body as { api_keys: unknown[] }).api_keys.map((k) => ApiKey.strict().parse(k));
    expect(keys.map((k) => k.id)).toContain(key.id);
    expect(JSON.stringify(listed.body)).not.toContain(body.secret);
  });

  it("revokes a key: it stops working and shows as inactive", async () => {
    const created = await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "temp", scopes: ["jobs:read"] } });
    const { api_key, secret } = created.body as { api_key: { id: string }; secret: string };
    const revoked = await request(h.api, "DELETE", `${keysPath}/${api_key.id}`, { key: orgKey });
    expect(revoked.status).toBe(200);
    expect(ApiKey.parse((revoked.body as { api_key: unknown }).api_key)).toMatchObject({ id: api_key.id, is_active: false, revoked_at: expect.any(String) });
    expectError(await request(h.api, "GET", "/v1/me", { key: secret }), 401, "API key has been revoked");
    // Idempotent.
    expect((await request(h.api, "DELETE", `${keysPath}/${api_key.id}`, { key: orgKey })).status).toBe(200);
    expectError(await request(h.api, "DELETE", `${keysPath}/key_does_not_exist`, { key: orgKey }), 404, "API key not found");
  });

  it("validates the body and keeps project keys to project scopes", async () => {
    expectError(
      await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "x", scopes: ["api_keys:write"], project_id: h.tenant.project_id } }),
      400,
      /project-scoped key cannot hold api_keys:write/,
    );
    expectError(await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "x", scopes: ["root"] } }), 400, /^scopes/);
    expectError(await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "", scopes: ["jobs:read"] } }), 400, /^name/);
    expectError(await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "x", scopes: [] } }), 400, /^scopes/);
    expectError(
      await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "x", scopes: ["jobs:read"], expires_at: "2001-01-01T00:00:00Z" } }),
      400,
      /expires_at/,
    );
    expectError(
      await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "x", scopes: ["jobs:read"], project_id: "prj_nope" } }),
      404,
      "project not found",
    );
  });

  it("creates an expiring key that stops working once expired", async () => {
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const created = await request(h.api, "POST", keysPath, { key: orgKey, json: { name: "short", scopes: ["jobs:read"], expires_at: expiresAt } });
    expect(created.status).toBe(201);
    const { secret, api_key } = created.body as { secret: string; api_key: { expires_at: string } };
    expect(api_key.expires_at).toBe(expiresAt);
    expect((await request(h.api, "GET", "/v1/me", { key: secret })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expectError(await request(h.api, "GET", "/v1/me", { key: secret }), 401, "API key has expired");
  });

  it("never grants scopes the caller does not hold", async () => {
    const limited = await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "limited", scopes: ["api_keys:write", "jobs:read"] });
    expectError(await request(h.api, "POST", keysPath, { key: limited.plaintext, json: { name: "x", scopes: ["backups:write"] } }), 403, /backups:write/);
    expect((await request(h.api, "POST", keysPath, { key: limited.plaintext, json: { name: "x", scopes: ["jobs:read"] } })).status).toBe(201);
  });

  it("refuses project keys (403) and other organizations (404, as for an unknown one)", async () => {
    expectError(await request(h.api, "GET", keysPath, { key: h.tenant.api_key }), 403, "missing scope api_keys:read");
    expectError(
      await request(h.api, "POST", keysPath, { key: h.tenant.api_key, json: { name: "x", scopes: ["jobs:read"] } }),
      403,
      "missing scope api_keys:write",
    );
    const globex = await h.stack.createTenant("globex", "shop", h.source.url);
    const globexOrgKey = (await createApiKey(h.stack.db, { organizationId: globex.organization_id, name: "globex" })).plaintext;
    const foreign = await request(h.api, "GET", keysPath, { key: globexOrgKey });
    const unknown = await request(h.api, "GET", "/v1/organizations/org_does_not_exist/api-keys", { key: orgKey });
    expectError(foreign, 404, "organization not found");
    expect(foreign.body).toEqual(unknown.body);
    const victim = await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "victim" });
    expectError(
      await request(h.api, "DELETE", `/v1/organizations/${globex.organization_id}/api-keys/${victim.id}`, { key: globexOrgKey }),
      404,
      "API key not found",
    );
    expect((await request(h.api, "GET", "/v1/me", { key: victim.plaintext })).status).toBe(200);
  });
});

describe("GET /v1/me", () => {
  it("describes an API key", async () => {
    const response = await request(h.api, "GET", "/v1/me", { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    expect(PrincipalInfo.strict().parse((response.body as { principal: unknown }).principal)).toEqual({
      source: "api_key",
      organization_id: h.tenant.organization_id,
      project_id: h.tenant.project_id,
      scopes: [...PROJECT_SCOPES],
      key_id: h.tenant.api_key_id,
      user_id: null,
      role: null,
    });
  });

  it("describes a session", async () => {
    const admin = await request(h.api, "GET", "/v1/me", { key: await adminSession() });
    expect((admin.body as { principal: unknown }).principal).toEqual({
      source: "session",
      organization_id: h.tenant.organization_id,
      project_id: null,
      scopes: [...SCOPES],
      key_id: null,
      user_id: "usr_admin",
      role: "admin",
    });
    const member = await request(h.api, "GET", "/v1/me", { key: await memberSession() });
    expect((member.body as { principal: { scopes: string[]; role: string } }).principal).toMatchObject({
      role: "member",
      scopes: ["backups:read", "backups:write", "jobs:read", "projects:read"],
    });
  });
});

describe("session tokens", () => {
  it("lets an admin manage keys and a member back up but not manage keys", async () => {
    expect((await request(h.api, "GET", keysPath, { key: await adminSession() })).status).toBe(200);
    const member = await memberSession();
    expect((await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: member })).status).toBe(201);
    expectError(await request(h.api, "GET", keysPath, { key: member }), 403, "missing scope api_keys:read");
  });

  it("rejects expired, not-yet-valid, wrongly signed, unsigned, foreign-issuer and malformed tokens with 401", async () => {
    const org = h.tenant.organization_id;
    const claims = { sub: "usr_1", org, role: "admin" };
    const cases: Array<[string, string, string]> = [
      ["expired", await issuer.sign(claims, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), "session token has expired"],
      ["nbf in the future", await issuer.sign(claims, { notBefore: "5m" }), "invalid session token"],
      ["wrong signature", await issuer.sign(claims, { key: issuer.otherKey }), "invalid session token"],
      ["alg none", unsignedToken(claims), "invalid session token"],
      ["wrong issuer", await issuer.sign(claims, { issuer: "https://evil.example" }), "invalid session token"],
      ["wrong audience", await issuer.sign(claims, { audience: "other" }), "invalid session token"],
      ["no org claim", await issuer.sign({ sub: "usr_1", role: "admin" }), "invalid session token"],
      ["unknown role", await issuer.sign({ ...claims, role: "owner" }), "invalid session token"],
      [
        "tampered payload",
        (await memberSession()).replace(
          /\.([^.]+)\./,
          (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), role: "admin" })).toString("base64url")}.`,
        ),
        "invalid session token",
      ],
    ];
    for (const [name, token, message] of cases) {
      const response = await request(h.api, "GET", "/v1/me", { key: token });
      expect(response.status, name).toBe(401);
      expectError(response, 401, message);
    }
  });

  it("verifies ES256 tokens against a local JWKS file", async () => {
    const jwks = await createSessionIssuer("jwks", "ES256");
    const api = await startApi({ ...h.stack.env, ...jwks.env });
    try {
      const token = await jwks.sign({ sub: "usr_es", org: h.tenant.organization_id, role: "member" });
      expect((await request(api, "GET", "/v1/me", { key: token })).status).toBe(200);
      // A token of the PEM issuer's RS256 key is not trusted here.
      expectError(await request(api, "GET", "/v1/me", { key: await adminSession() }), 401, "invalid session token");
    } finally {
      await api.stop();
      await jwks.cleanup();
    }
  });

  it("rejects every session token when no key is configured", async () => {
    const api = await startApi(h.stack.env);
    try {
      expectError(await request(api, "GET", "/v1/me", { key: await adminSession() }), 401, "session tokens are not accepted by this server");
      expect((await request(api, "GET", "/v1/me", { key: orgKey })).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describe("limits and headers", () => {
  it("rate-limits per key, per session user and per address, with 429 and Retry-After", async () => {
    // A prefix of its own (inside the stack's, so cleanup finds it): counters are shared by every
    // API process of a deployment, and this file's main API has counted requests already.
    const prefix = `${h.stack.redis.prefix}:rl`;
    const api = await startApi({ ...h.stack.env, ...issuer.env, CAPY_REDIS_PREFIX: prefix, RATE_LIMIT_PER_MINUTE: "3" });
    try {
      // Counting needs the API's Redis connection up (until then the limiter lets requests
      // through rather than fail them); /readyz answers 200 once Redis does.
      await waitFor(async () => (await fetch(`${api.baseUrl}/readyz`)).ok, { timeoutMs: 10_000, what: "the API to be ready" });
      const statuses = async (key?: string) => {
        const out: number[] = [];
        for (let i = 0; i < 4; i++) out.push((await request(api, "GET", "/v1/me", { key })).status);
        return out;
      };
      // Every limited answer says where its caller stands (the headers @fastify/rate-limit sent).
      const first = await request(api, "GET", "/v1/me", { key: h.tenant.api_key });
      expect(first.status).toBe(200);
      expect([first.headers.get("x-ratelimit-limit"), first.headers.get("x-ratelimit-remaining")]).toEqual(["3", "2"]);
      expect(Number(first.headers.get("x-ratelimit-reset"))).toBeGreaterThan(0);
      expect(await statuses(h.tenant.api_key)).toEqual([200, 200, 429, 429]);
      const limited = await request(api, "GET", "/v1/me", { key: h.tenant.api_key });
      expectError(limited, 429, /^rate limit exceeded: retry in (\d+ seconds?|1 minute)$/);
      expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      // Another key and a session user have buckets of their own.
      expect(await statuses(orgKey)).toEqual([200, 200, 200, 429]);
      expect(await statuses(await adminSession())).toEqual([200, 200, 200, 429]);
      // Unauthenticated callers are limited by address.
      expect(await statuses()).toEqual([401, 401, 401, 429]);
      // Every route shares the limit, not only the tRPC-generated ones.
      for (const path of ["/v1/projects/prj_x/backups/bkp_x/download", "/v1/openapi.json", "/trpc/me.get", "/docs"]) {
        expect((await request(api, "GET", path)).status, path).toBe(429);
      }
      // Probes are never limited.
      expect((await request(api, "GET", "/healthz")).status).toBe(200);
      // The counters live in Redis under the deployment's prefix; no key material in their names.
      const redis = new Redis(h.stack.redis.url);
      try {
        const names = await redis.keys(`${prefix}:rate-limit:*`);
        expect(names.length).toBeGreaterThan(0);
        expect(names.join(" ")).not.toContain(h.tenant.api_key);
      } finally {
        redis.disconnect();
      }
    } finally {
      await api.stop();
    }
  });

  it("answers 413 { error } for a body over the limit", async () => {
    const response = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, {
      key: h.tenant.api_key,
      json: { label: "x".repeat(70 * 1024) },
    });
    expectError(response, 413);
  });

  it("sends security headers, with a CSP the docs page works under", async () => {
    const api = await request(h.api, "GET", "/v1/me", { key: h.tenant.api_key });
    expect(api.headers.get("x-content-type-options")).toBe("nosniff");
    expect(api.headers.get("strict-transport-security")).toMatch(/max-age=/);
    expect(api.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    const docs = await fetch(`${h.api.baseUrl}/docs`);
    const csp = docs.headers.get("content-security-policy")!;
    expect(csp).not.toMatch(/https?:|\*|unsafe-eval/);
    // The page's inline bootstrap script is allowed by its hash, nothing else inline.
    const inline = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(await docs.text())![1]!;
    const hash = createHash("sha256").update(inline).digest("base64");
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}';`);
    expect((await fetch(`${h.api.baseUrl}/docs/js/scalar.js`)).status).toBe(200);
  });
});

describe("audit log", () => {
  it("records key, backup, download and schedule actions, newest first, for this organization only", async () => {
    const session = await adminSession();
    const created = await request(h.api, "POST", keysPath, { key: session, json: { name: "audited", scopes: ["jobs:read"] } });
    const keyId = (created.body as { api_key: { id: string } }).api_key.id;
    await request(h.api, "DELETE", `${keysPath}/${keyId}`, { key: orgKey });
    const job = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key, json: { label: "audit me" } });
    const jobId = (job.body as { job: { id: string } }).job.id;
    await request(h.api, "PUT", `/v1/projects/${h.tenant.project_id}/scheduled-backups/default`, {
      key: h.tenant.api_key,
      json: { cron_hour: 3, cron_minute: 0, is_active: true },
    });

    const response = await request(h.api, "GET", `/v1/organizations/${h.tenant.organization_id}/audit-events?limit=4`, { key: orgKey });
    expect(response.status).toBe(200);
    const events = (response.body as { audit_events: unknown[] }).audit_events.map((e) => AuditEvent.strict().parse(e));
    expect(events.map((e) => e.action)).toEqual(["schedule.updated", "backup.created", "api_key.revoked", "api_key.created"]);
    expect(events[0]).toMatchObject({ actor_type: "api_key", actor_id: h.tenant.api_key_id, project_id: h.tenant.project_id, metadata: { cron_hour: 3 } });
    expect(events[1]).toMatchObject({ target_type: "job", target_id: jobId, metadata: { label: "audit me" } });
    expect(events[3]).toMatchObject({ actor_type: "user", actor_id: "usr_admin", target_id: keyId });
    expect(events.every((e) => e.organization_id === h.tenant.organization_id)).toBe(true);

    expectError(await request(h.api, "GET", `/v1/organizations/${h.tenant.organization_id}/audit-events`, { key: h.tenant.api_key }), 403);
    const globex = await h.stack.createTenant("globex-audit", "shop", h.source.url);
    const globexKey = (await createApiKey(h.stack.db, { organizationId: globex.organization_id, name: "g" })).plaintext;
    expectError(await request(h.api, "GET", `/v1/organizations/${h.tenant.organization_id}/audit-events`, { key: globexKey }), 404, "organization not found");
    const own = await request(h.api, "GET", `/v1/organizations/${globex.organization_id}/audit-events`, { key: globexKey });
    expect(own.body).toEqual({ audit_events: [] });
  });
});
