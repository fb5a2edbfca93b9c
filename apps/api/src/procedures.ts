// The app router's procedures by path, and calling one directly, as tRPC's own caller and HTTP
// handler do (middlewares, input and output validation included), without building a caller
// proxy, a WHATWG Request or an abort signal per request: the REST routes (http/rest.ts) and
// the fast path of native tRPC (http/native-trpc.ts) call procedures this way.
import type { AnyProcedure, ProcedureType } from "@trpc/server";
import type { Context } from "./context.js";
import { appRouter } from "./router.js";

// tRPC types `_def.procedures` as the nested record, but it holds every procedure by full path.
export const procedures: ReadonlyMap<string, AnyProcedure> = new Map(Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>));

/** A built procedure is a function of these options (tRPC's ProcedureCallOptions). */
type Callable = (options: {
  ctx: Context;
  path: string;
  type: ProcedureType;
  getRawInput: () => Promise<unknown>;
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>;

/** Runs the procedure at `path` for `input`; throws what tRPC's caller throws (a TRPCError). */
export function callProcedure(procedure: AnyProcedure, path: string, ctx: Context, input: unknown): Promise<unknown> {
  const call = procedure as unknown as Callable;
  return call({ ctx, path, type: procedure._def.type, getRawInput: async () => input, signal: undefined, batchIndex: 0 });
}
