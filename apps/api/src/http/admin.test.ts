// The queue dashboard: mounted only with an operator token, refused without it, usable from a
// browser through the cookie that ?token= sets, and loading nothing from other origins.

import { BACKUP_QUEUE } from "@capy/contracts";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";

const TOKEN = "op-token-0123456789abcdef";

describe("/admin/queues without an operator token configured", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness?.stop());

  it("is not mounted", async () => {
    expectError(await request(harness.api, "GET", "/admin/queues"), 404);
    expectError(await request(harness.api, "GET", "/admin/queues", { key: TOKEN }), 404);
    expectError(await request(harness.api, "GET", `/admin/queues?token=${TOKEN}`), 404);
  });
});

describe("/admin/queues with an operator token", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ CAPY_OPERATOR_TOKEN: TOKEN });
  });
  afterAll(async () => harness?.stop());

  it("refuses missing and wrong tokens with 401 { error }", async () => {
    expectError(await request(harness.api, "GET", "/admin/queues"), 401, "operator token required");
    expectError(await request(harness.api, "GET", "/admin/queues/api/queues"), 401);
    expectError(await request(harness.api, "GET", "/admin/queues", { key: "wrong-token" }), 401, "invalid operator token");
    // An API key is not an operator token.
    expectError(await request(harness.api, "GET", "/admin/queues", { key: harness.tenant.api_key }), 401);
    expectError(await request(harness.api, "GET", "/admin/queues?token=wrong"), 401);
    expectError(await request(harness.api, "GET", "/admin/queues", { headers: { cookie: "capy_operator=forged" } }), 401);
    expectError(await request(harness.api, "GET", "/admin/queues/static/js/anything.js"), 401);
  });

  it("serves the dashboard and its assets locally to the operator", async () => {
    const page = await fetch(`${harness.api.baseUrl}/admin/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    const scripts = [...html.matchAll(/src="(static\/js\/[^"]+)"/g)].map(([, src]) => src!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      const asset = await fetch(`${harness.api.baseUrl}/admin/queues/${src}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toMatch(/javascript/);
    }
    const api = await request(harness.api, "GET", "/admin/queues/api/queues", { key: TOKEN });
    expect(api.status).toBe(200);
    expect(JSON.stringify(api.body)).toContain(BACKUP_QUEUE);
  });

  it("sets a cookie from ?token= once, then accepts the cookie", async () => {
    const visit = await fetch(`${harness.api.baseUrl}/admin/queues?token=${TOKEN}`, { redirect: "manual" });
    expect(visit.status).toBe(303);
    expect(visit.headers.get("location")).toBe("/admin/queues");
    const setCookie = visit.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^capy_operator=[^;]+; Path=\/admin\/queues; HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(";", 1)[0]!;
    const page = await fetch(`${harness.api.baseUrl}/admin/queues`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const api = await request(harness.api, "GET", "/admin/queues/api/queues", { headers: { cookie } });
    expect(api.status).toBe(200);
    // The visit's request line shows the query without the token.
    await waitFor(() => harness.api.logs().includes('"url":"/admin/queues?token=[redacted]"'), { timeoutMs: 10_000, what: "the visit's request line" });
    expect(harness.api.logs()).not.toContain(TOKEN);
  });
});
