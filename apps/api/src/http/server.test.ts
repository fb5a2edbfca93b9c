// The server as a whole, against the built API process: OpenAPI document, reference page,
// probes, unknown routes, native tRPC, logging and graceful shutdown.

import { mintApiKey } from "@capy/db";
import { createTestStack, startApi, waitFor } from "@capy/testing";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe("OpenAPI document and reference", () => {
  it("serves a valid OpenAPI 3.1 document listing every /v1 endpoint", async () => {
    const response = await request(h.api, "GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    const doc = response.body as {
      openapi: string;
      info: { title: string };
      servers: unknown[];
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    const validation = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(validation.errors).toBeUndefined();
    expect(validation.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBe("Capy Backups API");
    expect(doc.servers.length).toBeGreaterThan(0);

    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        "GET /v1/projects/{id}/scheduled-backups",
        "PUT /v1/projects/{id}/scheduled-backups/default",
        "GET /v1/projects/{id}/backups",
        "POST /v1/projects/{id}/backups",
        "GET /v1/projects/{id}/jobs",
        "GET /v1/jobs/{jobID}",
        "POST /v1/jobs/{jobID}/cancel",
        "GET /v1/projects/{id}/events",
        "GET /v1/projects/{id}/backups/{backupID}/download",
        "POST /v1/projects/{id}/backups/{backupID}/verify",
        "DELETE /v1/projects/{id}/backups/{backupID}",
        "GET /v1/me",
        "GET /v1/organizations/{orgID}/api-keys",
        "POST /v1/organizations/{orgID}/api-keys",
        "DELETE /v1/organizations/{orgID}/api-keys/{keyID}",
        "GET /v1/organizations/{orgID}/audit-events",
        "GET /v1/projects",
        "POST /v1/projects/{id}/restores",
        "GET /v1/projects/{id}/preview-databases",
        "GET /v1/projects/{id}/preview-databases/{previewID}",
        "DELETE /v1/projects/{id}/preview-databases/{previewID}",
        "GET /v1/projects/{id}/preview-databases/{previewID}/credentials",
        "GET /v1/organizations/{orgID}/webhooks",
        "POST /v1/organizations/{orgID}/webhooks",
        "GET /v1/organizations/{orgID}/webhooks/{webhookID}",
        "PATCH /v1/organizations/{orgID}/webhooks/{webhookID}",
        "DELETE /v1/organizations/{orgID}/webhooks/{webhookID}",
        "POST /v1/organizations/{orgID}/webhooks/{webhookID}/rotate-secret",
        "POST /v1/organizations/{orgID}/webhooks/{webhookID}/test",
        "GET /v1/organizations/{orgID}/webhooks/{webhookID}/deliveries",
        "POST /v1/organizations/{orgID}/webhooks/{webhookID}/deliveries/{deliveryID}/redeliver",
        "GET /v1/projects/{id}/encryption-recipients",
        "POST /v1/projects/{id}/encryption-recipients",
        "DELETE /v1/projects/{id}/encryption-recipients/{recipientID}",
        "GET /v1/projects/{id}/encryption-keys",
        "POST /v1/projects/{id}/encryption-keys/rotate",
      ].sort(),
    );
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apiKeyHeader: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
    });
    for (const item of Object.values(doc.paths)) {
      for (const operation of Object.values(item)) {
        expect(operation.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
        expect(operation.responses["401"]).toMatchObject({ content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
      }
    }
    expect(Object.keys(doc.paths["/v1/projects/{id}/backups"]!.post!.responses)).toContain("201");
  });

  it("renders the reference at /docs from local assets only", async () => {
    const page = await fetch(`${h.api.baseUrl}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("/v1/openapi.json");
    expect(html).not.toMatch(/https?:\/\//);
    const script = /<script src="([^"]+)"/.exec(html)?.[1];
    expect(script).toBe("js/scalar.js");
    const asset = await fetch(new URL(script!, page.url));
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
  });
});

describe("probes and routing", () => {
  it("answers /healthz and /readyz", async () => {
    expect(await request(h.api, "GET", "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await request(h.api, "GET", "/readyz")).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("answers GET and HEAD /healthz in front of Fastify exactly as its route does, with a fresh request id", async () => {
    const headersOf = (response: Response) => Object.fromEntries([...response.headers].filter(([name]) => name !== "x-request-id" && name !== "date"));
    for (const method of ["GET", "HEAD"]) {
      // `/healthz?route` skips the answer in front (http/liveness.ts) and reaches the Fastify route.
      const viaRoute = await fetch(`${h.api.baseUrl}/healthz?route`, { method });
      const inFront = await fetch(`${h.api.baseUrl}/healthz`, { method });
      expect(inFront.status).toBe(200);
      expect(headersOf(inFront)).toEqual(headersOf(viaRoute));
      expect(inFront.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(inFront.headers.get("x-request-id")).not.toBe(viaRoute.headers.get("x-request-id"));
      expect(await inFront.text()).toBe(await viaRoute.text());
    }
  });

  it("answers unknown routes with 404 { error }", async () => {
    expectError(await request(h.api, "GET", "/v1/nope", { key: h.tenant.api_key }), 404);
    expectError(await request(h.api, "DELETE", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key }), 404);
    expectError(await request(h.api, "GET", "/nope"), 404);
  });

  it("serves the same router as native tRPC at /trpc", async () => {
    const input = encodeURIComponent(JSON.stringify({ id: h.tenant.project_id }));
    const ok = await request(h.api, "GET", `/trpc/backups.list?input=${input}`, { key: h.tenant.api_key });
    expect(ok).toMatchObject({ status: 200, body: { result: { data: { backups: [] } } } });
    const denied = await request(h.api, "GET", `/trpc/backups.list?input=${input}`);
    expect(denied.status).toBe(401);
    expect(JSON.stringify(denied.body)).not.toMatch(/stack|\.js:\d/);
  });

  it("tags responses and log lines with the request id, and never logs keys", async () => {
    const response = await request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/jobs`, { key: h.tenant.api_key });
    const requestId = response.headers.get("x-request-id");
    expect(requestId).toBeTruthy();
    const line = await waitFor(() =>
      h.api
        .logs()
        .split("\n")
        .find((text) => text.includes(requestId!)),
    );
    expect(JSON.parse(line)).toMatchObject({ reqId: requestId, req: { url: `/v1/projects/${h.tenant.project_id}/jobs` }, res: { statusCode: 200 } });
    expect(h.api.logs()).not.toContain(h.tenant.api_key);
    expect(h.api.logs()).toMatch(/"port":\d+,"msg":"api listening"/);
  });
});

describe("with Redis unreachable", () => {
  it("still records a backup job (left pending for the reconciler) and reports not ready", async () => {
    const stack = await createTestStack({ REDIS_URL: "redis://127.0.0.1:1/0" });
    try {
      const tenant = await stack.createTenant("acme", "shop", h.source.url);
      const api = await startApi(stack.env);
      try {
        const created = await request(api, "POST", `/v1/projects/${tenant.project_id}/backups`, { key: tenant.api_key });
        expect(created.status).toBe(201);
        const jobId = (created.body as { job: { id: string } }).job.id;
        expect(await stack.db.job.findUniqueOrThrow({ where: { id: jobId } })).toMatchObject({ state: "pending" });
        // The enqueue fails after the answer (services/enqueues.ts); the API says so, naming the job.
        const failed = (line: string) => line.includes('"msg":"enqueue failed; the job stays pending for the reconciler"') && line.includes(jobId);
        await waitFor(() => api.logs().split("\n").some(failed), { what: "the failed enqueue logged" });
        expectError(await request(api, "GET", "/readyz"), 503, /redis/);
      } finally {
        await api.stop();
      }
    } finally {
      await stack.stop();
    }
  });
});

describe("with the metadata database unreachable", () => {
  it("answers 500 { error } without internals, even in development", async () => {
    const stack = await createTestStack();
    try {
      const api = await startApi({ ...stack.env, NODE_ENV: "development", DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/capy_no_such_db" });
      try {
        const key = mintApiKey().plaintext;
        for (const path of [`/v1/projects/${h.tenant.project_id}/jobs`, `/v1/projects/${h.tenant.project_id}/backups/bkp_x/download`]) {
          expectError(await request(api, "GET", path, { key }), 500, "internal server error");
        }
        const trpc = await request(api, "GET", `/trpc/jobs.get?input=${encodeURIComponent(JSON.stringify({ jobID: "job_x" }))}`, { key });
        expect(trpc.status).toBe(500);
        expect(JSON.stringify(trpc.body)).not.toMatch(/capy_no_such_db|stack|\.js:\d/);
        expectError(await request(api, "GET", "/readyz"), 503, /postgres/);
        // The details go to the log, with the request id.
        await waitFor(() => api.logs().includes("capy_no_such_db") && api.logs().includes('"msg":"procedure failed"'));
      } finally {
        await api.stop();
      }
    } finally {
      await stack.stop();
    }
  });
});

describe("shutdown", () => {
  it("exits 0 on SIGTERM after closing its connections", async () => {
    const stack = await createTestStack();
    try {
      const api = await startApi(stack.env);
      expect(await api.stop("SIGTERM")).toBe(0);
      expect(api.logs()).toContain('"msg":"api stopped"');
    } finally {
      await stack.stop();
    }
  });
});
