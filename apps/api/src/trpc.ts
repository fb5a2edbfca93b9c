// tRPC setup: the one place where errors become tRPC errors and where procedures get their
// authentication and scope checks.

import type { Scope } from "@capy/contracts";
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError } from "zod";
import { requireScope } from "./auth/principal.js";
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

/** Turns AppErrors into tRPC errors with the mapped code, and logs unexpected failures. */
const baseProcedure = t.procedure.use(async ({ ctx, path, next }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause;
  // AppErrors, and database connection failures as DATABASE_UNAVAILABLE (503).
  const appError = asAppError(cause);
  const error = appError ? new TRPCError({ code: ERROR_CODES[appError.code].trpc, message: appError.message, cause: appError }) : result.error;
  if (error.code === "INTERNAL_SERVER_ERROR") ctx.log.error({ err: cause ?? error, path }, "procedure failed");
  else if (appError?.code === "DATABASE_UNAVAILABLE") ctx.log.warn({ err: cause, path }, "metadata database unavailable");
  if (error !== result.error) throw error;
  return result;
});

/** Requires a valid API key or session token; adds `ctx.principal`. */
export const protectedProcedure = baseProcedure.use(async ({ ctx, next }) => {
  const principal = await ctx.authenticate(ctx.headers);
  return next({ ctx: { principal } });
});

/**
 * Requires a valid API key or session token holding `scope` (403 otherwise). The scope is also
 * recorded in the procedure's meta (`scope`), from which the OpenAPI document and the
 * authorization matrix test read it.
 */
export const scopedProcedure = (scope: Scope) =>
  protectedProcedure.meta({ scope }).use(({ ctx, next }) => {
    requireScope(ctx.principal, scope);
    return next();
  });
