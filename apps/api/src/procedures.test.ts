// callProcedure walks a procedure's middlewares itself: every outcome below must be what tRPC's
// own caller gives for the same call (data, or the error's code, message and cause).
import { initTRPC, TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Context } from "./context.js";
import { callProcedure } from "./procedures.js";

interface TestContext {
  user: string | null;
  seen: string[];
}

const t = initTRPC.context<TestContext>().create();

// Adds to the context (merged by next) and records the order the middlewares ran in.
const authed = t.procedure.use(async ({ ctx, next, path, type }) => {
  ctx.seen.push(`auth ${path} ${type}`);
  if (ctx.user === null) throw new TRPCError({ code: "UNAUTHORIZED", message: "who are you" });
  return next({ ctx: { role: "admin" as const } });
});

const router = t.router({
  echo: authed
    .input(z.object({ id: z.string().min(2), limit: z.number().default(25) }))
    .output(z.object({ id: z.string(), limit: z.number(), user: z.string(), role: z.string() }))
    .query(({ ctx, input }) => ({ ...input, user: ctx.user!, role: ctx.role, extra: "stripped by the output schema" })),
  // A second input merged into the first; a middleware that replaces the input.
  merged: authed
    .input(z.object({ a: z.number() }))
    .use(({ next, input }) => next({ input: { ...input, a: input.a * 10 } }))
    .input(z.object({ b: z.number() }))
    .mutation(({ input }) => input),
  badOutput: authed.output(z.object({ n: z.number() })).query(() => ({ n: "not a number" }) as unknown as { n: number }),
  throws: authed.query(() => {
    throw new Error("boom");
  }),
});

const procedure = (path: keyof typeof router._def.procedures) => router._def.procedures[path];

async function both(path: keyof typeof router._def.procedures, input: unknown, user: string | null = "ada") {
  const ours = { user, seen: [] as string[] };
  const theirs = { user, seen: [] as string[] };
  const outcome = (promise: Promise<unknown>) =>
    promise.then(
      (data) => ({ data }),
      (error: unknown) => ({ error }),
    );
  const caller = t.createCallerFactory(router)(theirs) as unknown as Record<string, (input: unknown) => Promise<unknown>>;
  return {
    ours: { ...(await outcome(callProcedure(procedure(path), path, ours as unknown as Context, input))), seen: ours.seen },
    theirs: { ...(await outcome(caller[path]!(input))), seen: theirs.seen },
  };
}

const described = (error: unknown) => {
  const e = error as TRPCError;
  return { type: e.constructor.name, code: e.code, message: e.message, cause: (e.cause as Error | undefined)?.constructor.name };
};

describe("callProcedure", () => {
  it("gives the data tRPC's caller gives: context merged, input parsed with defaults, output parsed", async () => {
    const { ours, theirs } = await both("echo", { id: "ab" });
    expect(ours).toEqual(theirs);
    expect(ours.data).toEqual({ id: "ab", limit: 25, user: "ada", role: "admin" });
    expect(ours.seen).toEqual(["auth echo query"]);
  });

  it("merges inputs and honours a middleware's replaced input, as tRPC does", async () => {
    const { ours, theirs } = await both("merged", { a: 1, b: 2 });
    expect(ours).toEqual(theirs);
    expect(ours.data).toEqual({ a: 10, b: 2 });
  });

  it("fails as tRPC fails: middleware errors, bad input, bad output, thrown errors", async () => {
    for (const [path, input, user] of [
      ["echo", { id: "ab" }, null],
      ["echo", { id: "a" }, "ada"],
      ["echo", "not an object", "ada"],
      ["badOutput", undefined, "ada"],
      ["throws", undefined, "ada"],
    ] as const) {
      const { ours, theirs } = await both(path, input, user);
      expect("error" in ours, path).toBe(true);
      expect(described((ours as { error: unknown }).error), path).toEqual(described((theirs as { error: unknown }).error));
      expect(ours.seen).toEqual(theirs.seen);
    }
  });
});
