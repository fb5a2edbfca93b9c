// The Content-Security-Policy of each kind of answer, now set on arrival (onRequest) and, for the
// docs page alone, as sent: API answers, 404s under each prefix, the docs page (its inline script
// allowed by hash), the admin dashboard and the console; helmet's headers on every one, those
// only documents act on on the pages alone.

import { createHash } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerSecurityHeaders } from "./security.js";

const SCRIPT = "window.configure({ url: '/v1/openapi.json' })";
const PAGE = `<!doctype html><html><body><script src="js/scalar.js"></script><script>${SCRIPT}</script></body></html>`;

let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  registerSecurityHeaders(app);
  app.register(async (routes) => {
    routes.get("/v1/me", async () => ({ ok: true }));
    routes.get("/v1/page", async (_request, reply) => reply.type("text/html").send(PAGE));
    routes.register(
      async (docs) => {
        docs.get("/", async (_request, reply) => reply.type("text/html; charset=utf-8").send(PAGE));
        docs.get("/js/scalar.js", async (_request, reply) => reply.type("text/javascript").send("void 0"));
      },
      { prefix: "/docs" },
    );
    routes.get("/admin/queues", async (_request, reply) => reply.type("text/html").send("<p>queues</p>"));
    routes.get("/", async (_request, reply) => reply.type("text/html").send("<p>console</p>"));
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
});

const policyOf = async (url: string) => {
  const response = await app.inject({ method: "GET", url });
  expect(response.headers["x-content-type-options"]).toBe("nosniff");
  return String(response.headers["content-security-policy"]);
};

describe("Content-Security-Policy", () => {
  it("forbids everything on API answers and API 404s, whatever they contain", async () => {
    for (const url of ["/v1/me", "/v1/me?x=/docs/", "/v1/page", "/v1/nope"]) expect(await policyOf(url)).toMatch(/^default-src 'none'; frame-ancestors 'none'/);
  });

  it("allows the docs page's inline script by its hash, and no inline script on its other answers", async () => {
    const hash = createHash("sha256").update(SCRIPT).digest("base64");
    expect(await policyOf("/docs/")).toContain(`script-src 'self' 'sha256-${hash}';`);
    for (const url of ["/docs/js/scalar.js", "/docs/nope"]) expect(await policyOf(url)).toMatch(/script-src 'self'; style-src 'self' 'unsafe-inline'/);
  });

  it("gives the dashboard and the console their own", async () => {
    expect(await policyOf("/admin/queues")).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'/);
    expect(await policyOf("/admin/queues/api/queues")).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'/);
    expect(await policyOf("/")).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self';/);
  });
});

describe("helmet's headers", () => {
  const headersOf = async (url: string) => (await app.inject({ method: "GET", url })).headers;
  const DOCUMENT_ONLY = ["cross-origin-opener-policy", "origin-agent-cluster", "x-dns-prefetch-control", "x-download-options", "x-xss-protection"];
  const EVERY_ANSWER = {
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
  };

  it("are all on the pages: docs, dashboard and console", async () => {
    for (const url of ["/docs/", "/admin/queues", "/"]) {
      const headers = await headersOf(url);
      expect(headers).toMatchObject(EVERY_ANSWER);
      for (const name of DOCUMENT_ONLY) expect(headers[name], `${name} on ${url}`).toBeDefined();
    }
  });

  it("leave out on API answers and API 404s those only documents act on", async () => {
    for (const url of ["/v1/me", "/v1/nope", "/healthz"]) {
      const headers = await headersOf(url);
      expect(headers).toMatchObject(EVERY_ANSWER);
      for (const name of DOCUMENT_ONLY) expect(headers[name], `${name} on ${url}`).toBeUndefined();
    }
  });
});
