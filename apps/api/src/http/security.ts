// Request hardening for every route: security headers (helmet, with a strict Content Security
// Policy for API answers, one the /docs reference page works under, one for the /admin/queues
// dashboard and one for the web console at /), rate limits kept in Redis (shared by every API
// process of the deployment; probes and /metrics exempt), and the 429 answer.
import { createHash } from "node:crypto";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { createRateLimitKeyGenerator } from "../auth/authenticate.js";
import type { AppDeps } from "../deps.js";
import { AppError } from "../errors.js";
import { isConsolePath } from "./console.js";

/** JSON answers load nothing and may not be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The Scalar reference: its script from this origin (/docs/js/scalar.js) plus the page's inline
 * bootstrap script, allowed by its hash (computed from the page as sent); inline styles it
 * injects, data: images and fonts, and the OpenAPI document fetched from this origin. Nothing
 * from other origins.
 */
const docsCsp = (scriptHashes: string[]) => [
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

const UNLIMITED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

export function registerSecurity(app: FastifyInstance, deps: Pick<AppDeps, "config" | "redis" | "verifySession">): void {
  app.register(helmet, { global: true, contentSecurityPolicy: false });
  app.addHook("onSend", async (request, reply, payload) => {
    const path = request.url.split("?", 1)[0]!;
    if (isAdminPath(path)) {
      reply.header("content-security-policy", ADMIN_CSP);
      return;
    }
    if (isConsolePath(path)) {
      reply.header("content-security-policy", CONSOLE_CSP);
      return;
    }
    if (!isDocsPath(path)) {
      reply.header("content-security-policy", API_CSP);
      return;
    }
    const html = typeof payload === "string" && /html/i.test(String(reply.getHeader("content-type") ?? "")) ? payload : "";
    reply.header("content-security-policy", docsCsp(inlineScriptHashes(html)));
  });

  app.register(rateLimit, {
    global: true,
    max: deps.config.rateLimit.perMinute,
    timeWindow: 60_000,
    redis: deps.redis,
    // Shares the deployment's key prefix, so deployments on one Redis never share counters.
    nameSpace: `${deps.config.redis.prefix}:rate-limit:`,
    // Redis down must not take the API down with it: requests pass unlimited meanwhile.
    skipOnError: true,
    allowList: (request) => UNLIMITED_PATHS.has(request.url.split("?", 1)[0]!),
    keyGenerator: createRateLimitKeyGenerator(deps.verifySession),
    errorResponseBuilder: (_request, context) => new AppError("TOO_MANY_REQUESTS", `rate limit exceeded: retry in ${context.after}`),
  });
}
