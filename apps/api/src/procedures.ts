// The app router's procedures by path, and calling one directly, as tRPC's own caller and HTTP
// handler do (middlewares, input and output validation included), without building a caller
// proxy, a WHATWG Request or an abort signal per request: the REST routes (http/rest.ts) and
// the fast path of native tRPC (http/native-trpc.ts) call procedures this way.
//
// The middleware chain (guard, input, output, resolver) is walked here instead of by the
// procedure itself: tRPC's walker copies the call's options at each level with its bundled
// `_objectSpread2` helper (Object.keys + defineProperty per key), three copies per level,
// which was a quarter of the CPU of GET /v1/me (bench/api-throughput profile). This walker
// gives every middleware the same options and `next` semantics as tRPC's callRecursive
// (@trpc/server 11: ctx merged by `next({ ctx })`, input replaced by `next({ input })`, a
// throw becoming `{ ok: false, error }`), built as object literals of fixed shape. tRPC's
// output middleware is swapped for outputMiddleware (below) when the chain is built, once per
// procedure. procedures.test.ts checks answers and errors against tRPC's own caller.
import { type AnyProcedure, getTRPCErrorFromUnknown, type ProcedureType, TRPCError } from "@trpc/server";
import { getParseFn, middlewareMarker, type Parser } from "@trpc/server/unstable-core-do-not-import";
import type { Context } from "./context.js";
import { appRouter } from "./router.js";

// tRPC types `_def.procedures` as the nested record, but it holds every procedure by full path.
export const procedures: ReadonlyMap<string, AnyProcedure> = new Map(Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>));

type Result = { ok: true; data: unknown } | { ok: false; error: TRPCError };

interface NextOptions {
  ctx?: object;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}

/** What tRPC passes each middleware (its ProcedureCallOptions plus meta, input and next). */
interface MiddlewareOptions {
  ctx: object;
  path: string;
  type: ProcedureType;
  getRawInput: () => Promise<unknown>;
  input: unknown;
  signal: undefined;
  batchIndex: number;
  meta: unknown;
  next: (options?: NextOptions) => Promise<Result>;
}

type Middleware = (options: MiddlewareOptions) => Promise<Result>;

interface Chain {
  middlewares: readonly Middleware[];
  meta: unknown;
  path: string;
  type: ProcedureType;
}

/** One level of the chain: middleware `index` with `ctx`, `input` and `getRawInput` as the level above left them. */
async function callLevel(chain: Chain, index: number, ctx: object, input: unknown, getRawInput: () => Promise<unknown>): Promise<Result> {
  try {
    return await chain.middlewares[index]!({
      ctx,
      path: chain.path,
      type: chain.type,
      getRawInput,
      input,
      signal: undefined,
      batchIndex: 0,
      meta: chain.meta,
      next: (next) =>
        callLevel(chain, index + 1, next?.ctx ? { ...ctx, ...next.ctx } : ctx, next && "input" in next ? next.input : input, next?.getRawInput ?? getRawInput),
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker } as Result;
  }
}

/**
 * tRPC's output middleware (createOutputMiddleware) without its copies of the result: it returns
 * `_objectSpread2(_objectSpread2({}, result), {}, { data })`, the bundled helper's
 * defineProperty per key and getOwnPropertyDescriptors: ~8 % of the API's busy time in a profile
 * of GET /v1/me (bench/api-throughput --cpu-prof), 3.0-5.0 µs a call in a loop of its own where
 * this one takes 0.3-0.8. The same parse, error and result, by a native spread.
 */
function outputMiddleware(parse: (value: unknown) => unknown): Middleware {
  return async ({ next }) => {
    const result = await next();
    if (!result.ok) return result;
    let data: unknown;
    try {
      data = await parse(result.data);
    } catch (cause) {
      throw new TRPCError({ message: "Output validation failed", code: "INTERNAL_SERVER_ERROR", cause });
    }
    return { ...result, data };
  };
}

/** What the chain reads of a procedure's `_def`. */
interface ProcedureDef {
  /** tRPC tags the middlewares it makes (`_type`: "input", "output"); ours are untagged. */
  middlewares: (Middleware & { _type?: string })[];
  meta: unknown;
  type: ProcedureType;
  /** The parser given to `.output()`, when it was. */
  output?: Parser;
}

/** The procedure's middlewares, its one output middleware (`.output()` given once) as outputMiddleware. */
function middlewaresOf(def: ProcedureDef): Middleware[] {
  const outputs = def.middlewares.filter((middleware) => middleware._type === "output");
  if (outputs.length !== 1 || def.output === undefined) return def.middlewares;
  const ours = outputMiddleware(getParseFn(def.output));
  return def.middlewares.map((middleware) => (middleware === outputs[0] ? ours : middleware));
}

/** Each procedure's chain, built once (a procedure has one path in the router). */
const chains = new WeakMap<AnyProcedure, Chain>();

function chainOf(procedure: AnyProcedure, path: string): Chain {
  const known = chains.get(procedure);
  if (known?.path === path) return known;
  const def = procedure._def as unknown as ProcedureDef;
  const chain = { middlewares: middlewaresOf(def), meta: def.meta, path, type: def.type };
  chains.set(procedure, chain);
  return chain;
}

/** Runs the procedure at `path` for `input`; throws what tRPC's caller throws (a TRPCError). */
export async function callProcedure(procedure: AnyProcedure, path: string, ctx: Context, input: unknown): Promise<unknown> {
  const result = await callLevel(chainOf(procedure, path), 0, ctx, undefined, async () => input);
  if (!result) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "No result from middlewares - did you forget to `return next()`?" });
  if (!result.ok) throw result.error;
  return result.data;
}
