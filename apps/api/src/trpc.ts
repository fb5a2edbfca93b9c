// tRPC setup: the one place where errors become tRPC errors and where procedures get their
// authentication and scope checks.

import type { Scope } from "@capy/contracts";
import { getTRPCErrorFromUnknown, initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError } from "zod";
import { type Principal, requireScope } from "./auth/principal.js";
import type { Context } from "./context.js";
import { asAppError, describeIssues, ERROR_CODES, INTERNAL_MESSAGE } from "./errors.js";

export type Meta = OpenApiMeta<{
  /** HTTP status of a successful REST call; 200 unless set. */
  successStatus?: 200 | 201;
  /** The scope the procedure requires (set by scopedProcedure); none for any authenticated caller. */
  scope?: Scope;
}>;

/** The message a client may see: readable validation issues, never internals. */
export function publicMessage(error: TRPCError): string {
  if (error.cause instanceof ZodError) return describeIssues(error.cause.issues);
  if (error.code === "INTERNAL_SERVER_ERROR") return INTERNAL_MESSAGE;
  return error.message;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // No stack, no cause, in any NODE_ENV.
    errorFormatter: ({ shape, error }) => ({
      message: publicMessage(error),
      code: shape.code,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path },
    }),
  });

export const router = t.router;

/**
 * The tRPC error a failure becomes: AppErrors (and an unreachable database) with their mapped
 * code; logged when unexpected (500) or when the database is unreachable.
 */
function toTrpcError(cause: unknown, error: TRPCError, log: Context["log"], path: string): TRPCError {
  const appError = asAppError(cause);
  const mapped = appError ? new TRPCError({ code: ERROR_CODES[appError.code].trpc, message: appError.message, cause: appError }) : error;
  if (mapped.code === "INTERNAL_SERVER_ERROR") log.error({ err: cause ?? mapped, path }, "procedure failed");
  else if (appError?.code === "DATABASE_UNAVAILABLE") log.warn({ err: cause, path }, "metadata database unavailable");
  return mapped;
}

/**
 * One middleware for what every procedure needs: a valid API key or session token (adds
 * `ctx.principal`), holding `scope` when given (403 otherwise), and AppErrors of the procedure
 * turned into tRPC errors. One and not three: tRPC copies the call's options at every
 * middleware level (bench/api-throughput: ~10 % of a read's CPU).
 */
function guard(scope: Scope | undefined) {
  return t.middleware(async ({ ctx, path, next }) => {
    let principal: Principal;
    try {
      principal = await ctx.authenticate(ctx.headers);
      if (scope) requireScope(principal, scope);
    } catch (cause) {
      throw toTrpcError(cause, getTRPCErrorFromUnknown(cause), ctx.log, path);
    }
    const result = await next({ ctx: { principal } });
    if (result.ok) return result;
    const error = toTrpcError(result.error.cause, result.error, ctx.log, path);
    if (error !== result.error) throw error;
    return result;
  });
}

/** Requires a valid API key or session token; adds `ctx.principal`. */
export const protectedProcedure = t.procedure.use(guard(undefined));

/**
 * Requires a valid API key or session token holding `scope` (403 otherwise). The scope is also
 * recorded in the procedure's meta (`scope`), from which the OpenAPI document and the
 * authorization matrix test read it.
 */
export const scopedProcedure = (scope: Scope) => t.procedure.meta({ scope }).use(guard(scope));
