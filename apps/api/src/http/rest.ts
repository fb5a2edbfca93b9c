// REST under /v1: the app router through trpc-to-openapi, with JSON bodies parsed here so that
// every bad body (not JSON, or JSON but not an object) is a 400 `{ error }` and an absent body
// counts as `{}`.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { fastifyTRPCOpenApiPlugin } from "trpc-to-openapi";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import { restOperations } from "../rest-operations.js";
import { appRouter } from "../router.js";
import { rewriteAdapterErrors } from "./errors.js";

const successStatus = new Map(restOperations.map((operation) => [operation.procedure, operation.successStatus]));

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

function parseJsonBody(request: FastifyRequest, body: string, done: (error: Error | null, body?: unknown) => void): void {
  if (!/^application\/json\s*(;|$)/i.test(request.headers["content-type"] ?? "")) {
    done(new AppError("BAD_REQUEST", "request body must be JSON (Content-Type: application/json)"));
    return;
  }
  if (body.trim() === "") {
    done(null, {});
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    done(new AppError("BAD_REQUEST", "request body is not valid JSON"));
    return;
  }
  // The adapter merges the body with the path parameters: `[]`, `123` or `null` would pass as `{}`.
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    done(new AppError("BAD_REQUEST", "request body must be a JSON object"));
    return;
  }
  done(null, parsed);
}

export function registerRestApi(app: FastifyInstance, createContext: (opts: { req: FastifyRequest }) => Context): void {
  app.register(async (v1) => {
    // One parser for every content type: JSON is parsed, anything else is a 400.
    v1.removeAllContentTypeParsers();
    v1.addContentTypeParser("*", { parseAs: "string" }, parseJsonBody);
    // A request without a body skips the parser; the adapter insists on a JSON content type.
    v1.addHook("preValidation", async (request) => {
      if (!BODY_METHODS.has(request.method)) return;
      request.body ??= {};
      request.headers = { "content-type": "application/json" };
    });
    v1.addHook("onSend", rewriteAdapterErrors);
    await v1.register(fastifyTRPCOpenApiPlugin, {
      basePath: "/v1",
      router: appRouter,
      createContext,
      responseMeta: ({ paths, errors }: { paths?: readonly string[]; errors: readonly unknown[] }) => {
        const status = errors.length === 0 && paths?.length === 1 ? successStatus.get(paths[0]!) : undefined;
        return status ? { status } : {};
      },
    });
  });
}
