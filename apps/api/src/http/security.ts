// Request hardening for every route: security headers (helmet, with a strict Content Security
// Policy for API answers, one the /docs reference page works under, one for the /admin/queues
// dashboard and one for the web console at /), rate limits kept in Redis (shared by every API
// process of the deployment; probes and /metrics exempt), and the 429 answer.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance, onSendHookHandler } from "fastify";
import helmet from "helmet";
import type { AppDeps } from "../deps.js";
import { isConsolePath } from "./console.js";
import { registerRateLimit } from "./rate-limit.js";
import { appendHook } from "./route-hooks.js";

/** JSON answers load nothing and may not be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The Scalar reference: its script from this origin (/docs/js/scalar.js) plus the page's inline
 * bootstrap script, allowed by its hash (computed from the page as sent); inline styles it
 * injects, data: images and fonts, and the OpenAPI document fetched from this origin. Nothing
 * from other origins.
 */
const docsCsp = (scriptHashes: string[]) =>
  [
    "default-src 'self'",
    ["script-src 'self'", ...scriptHashes.map((hash) => `'sha256-${hash}'`)].join(" "),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");

/** Hashes (base64 SHA-256) of the inline scripts of an HTML page. */
function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi)]
    .filter(([, attributes, body]) => !/\ssrc\s*=/i.test(attributes ?? "") && body!.trim() !== "")
    .map(([, , body]) => createHash("sha256").update(body!).digest("base64"));
}

/** The queue dashboard (bull-board): its scripts, styles and images from this origin only. */
const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The web console: its own scripts and styles only; it talks to this origin's API. */
const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const isAdminPath = (path: string) => path === "/admin/queues" || path.startsWith("/admin/queues/");

const isDocsPath = (path: string) => path === "/docs" || path.startsWith("/docs/");

/** The headers helmet's middleware sets on a response (CSP aside). */
function renderHelmetHeaders(): HeaderSet {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet({ contentSecurityPolicy: false })({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

/**
 * The headers helmet sets (CSP aside), computed once per process (every answer of every server
 * shares them, the liveness answer in front of Fastify included). They do not depend on the
 * request, and @fastify/helmet rebuilt helmet's middleware on every request: a third of bare
 * Fastify's throughput (bench/api-throughput, layer table).
 */
const HELMET_HEADERS = renderHelmetHeaders();

/**
 * Helmet headers that only a document (an HTML page a browser renders) acts on: the opener's
 * browsing context group, the origin-keyed agent cluster, DNS prefetching of the page's links,
 * IE8's "open" of a download in the site's context, the legacy XSS auditor. Browsers ignore them
 * on JSON and artifact answers, which get the other 6 of helmet's 11 (the set of OWASP's REST
 * Security Cheat Sheet, plus X-Permitted-Cross-Domain-Policies): every header costs every answer
 * its validation and its bytes.
 */
const DOCUMENT_ONLY = ["cross-origin-opener-policy", "origin-agent-cluster", "x-dns-prefetch-control", "x-download-options", "x-xss-protection"];

type HeaderSet = Readonly<Record<string, string>>;

/** What every answer on a path gets, by kind of path: the policy and helmet's headers, computed once. */
interface PathHeaders {
  api: HeaderSet;
  admin: HeaderSet;
  console: HeaderSet;
  /** The docs' answers before their body is known (the page's policy is refined by docsPolicy). */
  docs: HeaderSet;
}

const withPolicy = (headers: HeaderSet, policy: string): HeaderSet => ({ ...headers, "content-security-policy": policy });

/** The security headers of an API answer (JSON or artifact): helmet's but the document-only ones, and the API's policy. */
export function apiHeaders(): HeaderSet {
  return withPolicy(Object.fromEntries(Object.entries(HELMET_HEADERS).filter(([name]) => !DOCUMENT_ONLY.includes(name))), API_CSP);
}

function pathHeaders(): PathHeaders {
  return {
    api: apiHeaders(),
    admin: withPolicy(HELMET_HEADERS, ADMIN_CSP),
    console: withPolicy(HELMET_HEADERS, CONSOLE_CSP),
    docs: withPolicy(HELMET_HEADERS, docsCsp([])),
  };
}

export function registerSecurity(app: FastifyInstance, deps: Pick<AppDeps, "config" | "redis" | "verifySession">): void {
  registerSecurityHeaders(app);
  registerRateLimit(app, deps);
}

/**
 * The security headers of every answer: helmet's (a JSON or artifact answer without the
 * document-only ones) and the Content-Security-Policy fitting the path.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const headers = pathHeaders();
  // Callback-style, and on arrival, where the path is known: a policy set in an onSend hook cost
  // every answer a second onSend hook (1-3 µs of CPU per request, Fastify inject in-process).
  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(headers[kindOfPath(request.url.split("?", 1)[0]!)]);
    done();
  });
  // Only the docs page's policy depends on the answer (its inline script's hash): set as sent,
  // on the docs routes alone (routes of every plugin scope, as they are defined).
  app.addHook("onRoute", (route) => {
    if (!isDocsPath(route.url)) return;
    route.onSend = appendHook(route.onSend, docsPolicy);
  });
}

/** Which headers an answer on `path` gets: the pages' (dashboard, console, docs) or the API's. */
function kindOfPath(path: string): keyof PathHeaders {
  if (isAdminPath(path)) return "admin";
  if (isConsolePath(path)) return "console";
  return isDocsPath(path) ? "docs" : "api";
}

/** The docs policy of an answer: its HTML page's inline scripts allowed by hash. */
const docsPolicy: onSendHookHandler = (_request, reply, payload, done) => {
  const html = typeof payload === "string" && /html/i.test(String(reply.getHeader("content-type") ?? "")) ? payload : "";
  reply.header("content-security-policy", docsCsp(inlineScriptHashes(html)));
  done(null, payload);
};
