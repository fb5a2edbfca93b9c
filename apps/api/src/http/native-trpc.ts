// Native tRPC at /trpc: tRPC's own Fastify request handler, with a fast path in front for single
// calls (what the SDK's httpLink sends: one procedure, no batch, no streaming). tRPC's handler
// turns every request into a WHATWG Request with abort signals, resolves it to a WHATWG
// Response and streams that back through Fastify: about 300 µs of CPU per call more than the
// same procedure over REST (bench/api-throughput). The fast path calls the procedure directly
// (procedures.ts) and writes the same answer tRPC writes for a single call: status, headers
// (`vary`, content type, responseMeta's), `{ result: { data } }` or `{ error: <the router's
// error shape> }`. Anything else (batches, streaming, HEAD, a wrong method, an unknown path,
// input that is not JSON, other content types) goes to tRPC's handler unchanged.
// native-trpc.test.ts checks each answer of the fast path against tRPC's for the same call.
import { getTRPCErrorFromUnknown, type TRPCError } from "@trpc/server";
import { type FastifyTRPCPluginOptions, fastifyRequestHandler } from "@trpc/server/adapters/fastify";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { getErrorShape } from "@trpc/server/unstable-core-do-not-import";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "../context.js";
import { callProcedure, procedures } from "../procedures.js";
import { type AppRouter, appRouter } from "../router.js";

/** Headers a call's answer gets from its outcome (e.g. the 401 challenge). */
export type TrpcResponseMeta = (opts: { errors: readonly TRPCError[] }) => { status?: number; headers?: Record<string, string> };

export interface NativeTrpcOptions {
  createContext: (opts: { req: FastifyRequest }) => Context;
  responseMeta: TrpcResponseMeta;
}

/** The procedure type each method calls, as tRPC maps them (no method override). */
const TYPE_OF_METHOD: Record<string, string> = { GET: "query", POST: "mutation" };

/** The raw input of a single call the fast path can take, or undefined to leave it to tRPC. */
function singleCallInput(request: FastifyRequest): { input: unknown } | undefined {
  const query = request.query as Record<string, unknown>;
  const headers = request.headers;
  if ("batch" in query || headers["trpc-accept"] !== undefined || headers.accept?.includes("application/jsonl")) return undefined;
  const mediaType = headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
  try {
    if (request.method === "GET") {
      if (mediaType !== undefined && mediaType !== "application/json") return undefined;
      if (query.input === undefined || query.input === "") return { input: undefined };
      return typeof query.input === "string" ? { input: JSON.parse(query.input) } : undefined;
    }
    if (mediaType !== "application/json") return undefined;
    // The JSON body arrives as a string (this scope's parser, as tRPC's plugin sets it up).
    if (request.body === undefined || request.body === "") return { input: undefined };
    return typeof request.body === "string" ? { input: JSON.parse(request.body) } : undefined;
  } catch {
    return undefined;
  }
}

/** The reply's serializer: the body as JSON.stringify writes it (one function for every answer). */
const toJson = (payload: unknown): string => JSON.stringify(payload);

/** Answers a single call to `path` as tRPC would; false when it is not one the fast path takes. */
async function answerSingleCall(path: string, request: FastifyRequest, reply: FastifyReply, options: NativeTrpcOptions): Promise<boolean> {
  const procedure = procedures.get(path);
  if (!procedure || procedure._def.type !== TYPE_OF_METHOD[request.method]) return false;
  const call = singleCallInput(request);
  if (!call) return false;
  const ctx = options.createContext({ req: request });
  let status = 200;
  let body: unknown;
  let errors: TRPCError[] = [];
  try {
    body = { result: { data: await callProcedure(procedure, path, ctx, call.input) } };
  } catch (cause) {
    const error = getTRPCErrorFromUnknown(cause);
    errors = [error];
    status = getHTTPStatusCodeFromError(error);
    const type = procedure._def.type;
    body = { error: getErrorShape({ config: appRouter._def._config, error, type, path, input: call.input, ctx }) };
  }
  const meta = options.responseMeta({ errors });
  reply.code(meta.status ?? status);
  reply.header("vary", "trpc-accept, accept");
  for (const [name, value] of Object.entries(meta.headers ?? {})) reply.header(name, value);
  // Serialized by the reply's own serializer: Fastify adds `; charset=utf-8` to the content type
  // of JSON it serializes itself (tRPC does not). Not sent as a Buffer, which Node writes as a
  // second chunk after the headers instead of one string with them.
  await reply.header("content-type", "application/json").serializer(toJson).send(body);
  return true;
}

export function registerNativeTrpc(app: FastifyInstance, options: NativeTrpcOptions): void {
  app.register(
    async (trpc) => {
      const trpcOptions = { router: appRouter, ...options } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"];
      // tRPC's plugin reads JSON and multipart bodies itself: Fastify hands them over unparsed.
      trpc.removeContentTypeParser(["application/json", "multipart/form-data"]);
      trpc.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => done(null, body));
      trpc.addContentTypeParser("multipart/form-data", (_request, payload, done) => done(null, payload));
      trpc.all<{ Params: { path: string } }>("/:path", async (request, reply) => {
        if (await answerSingleCall(request.params.path, request, reply, options)) return reply;
        await fastifyRequestHandler({ ...trpcOptions, req: request, res: reply, path: request.params.path });
        return reply;
      });
    },
    { prefix: "/trpc" },
  );
}
