// Error answers at the HTTP layer, where every error passes: `{ "error": "<message>" }` with the
// mapped status, whether it comes from a route, a hook, Fastify itself, or trpc-to-openapi
// (which builds its own error bodies, some without calling the tRPC errorFormatter).

import type { ErrorBody } from "@capy/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { describeIssues, INTERNAL_MESSAGE, type IssueLike, toHttpError } from "../errors.js";

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, message } = toHttpError(error);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    return reply.status(status).send({ error: message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: "Not found" } satisfies ErrorBody));
}

interface AdapterErrorBody {
  error?: unknown;
  message?: unknown;
  issues?: IssueLike[];
}

/**
 * onSend hook for the REST adapter's responses: rewrites its error bodies (`message`, `code`,
 * `issues`, …) to `{ error }`. Messages were made public by the tRPC errorFormatter; input
 * validation issues are summarised ("cron_hour: Too big: expected number to be <=23").
 */
export async function rewriteAdapterErrors(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode < 400 || typeof payload !== "string") return payload;
  reply.header("content-type", "application/json; charset=utf-8");
  return JSON.stringify({ error: adapterErrorMessage(payload) } satisfies ErrorBody);
}

function adapterErrorMessage(payload: string): string {
  let body: AdapterErrorBody;
  try {
    body = JSON.parse(payload) as AdapterErrorBody;
  } catch {
    return INTERNAL_MESSAGE;
  }
  if (typeof body.error === "string") return body.error;
  if (Array.isArray(body.issues)) return describeIssues(body.issues);
  if (typeof body.message === "string") return body.message;
  return INTERNAL_MESSAGE;
}
