// GET /healthz answered by the HTTP server itself, before Fastify sees the request. Liveness
// asks one thing, whether the process and its event loop still answer, and the orchestrator asks
// it every few seconds from every prober: through Fastify's request pipeline (request id, child
// logger, hooks, routing, serialisation) it ran at 51-73 % of bare Fastify's req/s, answered here
// at 73-79 %, as fast as a raw Node server sending the same headers (bench/api-throughput,
// README). The answer is the route's (health.ts) to the byte, headers included: status, body,
// the API's security headers and a fresh x-request-id, which tooling/testing waits for to tell
// the API from another server. Anything else, /healthz with a query string, another method, and
// every request once the server is closing (Fastify then answers 503 and closes the connection)
// goes to Fastify.
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { FastifyServerFactory } from "fastify";
import { LIVENESS_PATH } from "./machine-paths.js";
import { apiHeaders } from "./security.js";

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** The route's body, as Fastify serialises `{ status: "ok" }`. */
const BODY = JSON.stringify({ status: "ok" });

/** `next` (Fastify's handler) for every request but a liveness probe, answered here while `isClosing()` is false. */
function answeringLiveness(next: RequestListener, isClosing: () => boolean): RequestListener {
  const headers = { ...apiHeaders(), "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(BODY)) };
  return (request, response) => {
    const probe = request.url === LIVENESS_PATH && (request.method === "GET" || request.method === "HEAD");
    if (!probe || isClosing()) return next(request, response);
    response.writeHead(200, { ...headers, "x-request-id": randomUUID() });
    response.end(request.method === "HEAD" ? undefined : BODY);
  };
}

/**
 * Fastify's HTTP/1 server with the liveness answer in front. A server factory replaces Fastify's
 * own creation, timeouts included, so they are set here as Fastify sets them (lib/server.js).
 */
export function livenessServerFactory(isClosing: () => boolean): FastifyServerFactory {
  return (handler, options) => {
    const server = http.createServer(answeringLiveness(handler, isClosing));
    server.keepAliveTimeout = Number(options.keepAliveTimeout);
    server.requestTimeout = Number(options.requestTimeout);
    server.setTimeout(Number(options.connectionTimeout));
    if (Number(options.maxRequestsPerSocket) > 0) server.maxRequestsPerSocket = Number(options.maxRequestsPerSocket);
    return server;
  };
}
