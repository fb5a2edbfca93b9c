import { PrincipalInfo } from "@capy/contracts";
import { z } from "zod";
import { describePrincipal } from "../../auth/principal.js";
import { protectedProcedure } from "../../trpc.js";

export const GetMeInput = z.object({});
export const GetMeOutput = z.object({ principal: PrincipalInfo });

export const getMeProcedure = protectedProcedure
  .meta({
    openapi: {
      method: "GET",
      path: "/me",
      operationId: "getMe",
      tags: ["auth"],
      summary: "Who is calling: the API key or session and what it may do",
      description: "Any valid API key or session token; no scope needed.",
      protect: true,
    },
  })
  .input(GetMeInput)
  .output(GetMeOutput)
  .query(({ ctx }) => ({ principal: describePrincipal(ctx.principal) }));
