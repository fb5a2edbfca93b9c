// REST under /v1: every procedure the router declares with meta.openapi is a Fastify route of its
// own (method and path from the meta, `{id}` as `:id`), whose handler builds the procedure's input
// as trpc-to-openapi's adapter does (query or JSON body, then path parameters; query strings
// coerced to the schema's numbers and booleans) and calls the procedure, middlewares and
// validation included. trpc-to-openapi still writes the OpenAPI document from the same meta
// (openapi.ts); its request adapter is not used: per request it built a WHATWG Request and abort
// signal, a caller proxy, scanned every operation's regular expression, re-coerced the schema,
// and had its error bodies re-parsed into `{ error }` (bench/api-throughput: about a third of the
// CPU of GET /v1/me). Errors are `{ "error": "<message>" }`: the message the router's
// errorFormatter makes public, with the status tRPC maps the code to.

import type { ErrorBody } from "@capy/contracts";
import { type AnyProcedure, getTRPCErrorFromUnknown } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import { acceptsRequestBody, coerceSchema, getInputOutputParsers, instanceofZodTypeLikeVoid, instanceofZodTypeObject, unwrapZodType } from "trpc-to-openapi";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import { callProcedure, procedures } from "../procedures.js";
import { restOperations } from "../rest-operations.js";
import { publicMessage } from "../trpc.js";
import { withChallenge } from "./challenge.js";

export interface RestRoute {
  method: HTTPMethods;
  /** Fastify path under /v1, e.g. `/projects/:id/jobs`. */
  url: string;
  /** The procedure's path in the router, e.g. `jobs.list`. */
  path: string;
  procedure: AnyProcedure;
  successStatus: number;
  /** Where the input comes from besides path parameters: the JSON body or the query string. */
  fromBody: boolean;
  /** No input at all (a z.void()-like schema). */
  voidInput: boolean;
  /** Query fields whose schema is an array: a single value becomes a one-element array. */
  arrayFields: ReadonlySet<string>;
}

const zodType = (schema: unknown): string | undefined => (schema as { _zod?: { def?: { type?: string; innerType?: unknown } } })?._zod?.def?.type;

/** Fields that are arrays, or optional arrays (what the adapter wrapped single query values for). */
function arrayFieldsOf(schema: unknown): Set<string> {
  const fields = new Set<string>();
  if (!instanceofZodTypeObject(schema as never)) return fields;
  for (const [key, field] of Object.entries((schema as { shape: Record<string, unknown> }).shape)) {
    const inner = (field as { _zod: { def: { innerType?: unknown } } })._zod.def.innerType;
    if (zodType(field) === "array" || (zodType(field) === "optional" && zodType(inner) === "array")) fields.add(key);
  }
  return fields;
}

/** Every REST operation of the router, schemas coerced once (the adapter did it on every request). */
export function restRoutes(): RestRoute[] {
  return restOperations.map((operation) => {
    const procedure = procedures.get(operation.procedure)!;
    const schema = unwrapZodType(getInputOutputParsers(procedure as never).inputParser as never, true);
    // Strings of the query (and, as the adapter did, of bodies) to the schema's numbers, booleans, dates.
    if (instanceofZodTypeObject(schema)) coerceSchema(schema);
    return {
      method: operation.method as HTTPMethods,
      url: operation.path.replace(/\{(.+?)\}/g, ":$1"),
      path: operation.procedure,
      procedure,
      successStatus: operation.successStatus,
      fromBody: acceptsRequestBody(operation.method as "GET"),
      voidInput: instanceofZodTypeLikeVoid(schema),
      arrayFields: arrayFieldsOf(schema),
    };
  });
}

/** The query as the adapter read it: empty values dropped, a repeated key as an array. */
function queryInput(route: RestRoute, query: Record<string, string | string[] | undefined>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key in query) {
    const value = query[key];
    if (!value) continue;
    const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
    input[key] = route.arrayFields.has(key) && !Array.isArray(single) ? [single] : single;
  }
  return input;
}

function inputOf(route: RestRoute, request: FastifyRequest): unknown {
  if (route.voidInput) return undefined;
  const params = request.params as Record<string, string>;
  if (route.fromBody) return { ...(request.body as Record<string, unknown> | undefined), ...params };
  return { ...queryInput(route, request.query as Record<string, string | string[] | undefined>), ...params };
}

/** Every bad body (not JSON, or JSON but not an object) is a 400 `{ error }`; an empty one is `{}`. */
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

/** The public `{ error }` of a failed call, and its status. */
function errorReply(cause: unknown): { status: number; message: string } {
  const error = getTRPCErrorFromUnknown(cause);
  return { status: getHTTPStatusCodeFromError(error), message: publicMessage(error) };
}

export function registerRestApi(app: FastifyInstance, createContext: (opts: { req: FastifyRequest }) => Context): void {
  app.register(
    async (v1) => {
      // One parser for every content type: JSON is parsed, anything else is a 400.
      v1.removeAllContentTypeParsers();
      v1.addContentTypeParser("*", { parseAs: "string" }, parseJsonBody);
      for (const route of restRoutes()) {
        const handler = async (request: FastifyRequest, reply: FastifyReply) => {
          try {
            const input = inputOf(route, request);
            const data = await callProcedure(route.procedure, route.path, createContext({ req: request }), input);
            return reply.code(route.successStatus).header("content-type", "application/json").send(data);
          } catch (cause) {
            const { status, message } = errorReply(cause);
            return withChallenge(reply.code(status)).send({ error: message } satisfies ErrorBody);
          }
        };
        // With and without a trailing slash, as the adapter matched them.
        for (const url of [route.url, `${route.url}/`]) v1.route({ method: route.method, url, handler });
      }
    },
    { prefix: "/v1" },
  );
}
