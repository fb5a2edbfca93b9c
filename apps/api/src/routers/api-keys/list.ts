import { ApiKey } from "@capy/contracts";
import { z } from "zod";
import { serializeApiKey } from "../../serializers.js";
import { listApiKeys, requireOrganization } from "../../services/api-keys.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";

export const ListApiKeysInput = z.object({ orgID: organizationId });
export const ListApiKeysOutput = z.object({ api_keys: z.array(ApiKey) });

export const listApiKeysProcedure = scopedProcedure("api_keys:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/organizations/{orgID}/api-keys",
      operationId: "listApiKeys",
      tags: ["api keys"],
      summary: "List the organization's API keys, newest first (active, expired and revoked)",
      protect: true,
    },
  })
  .input(ListApiKeysInput)
  .output(ListApiKeysOutput)
  .query(async ({ ctx, input }) => {
    const orgId = requireOrganization(ctx.principal, input.orgID);
    const keys = await listApiKeys(ctx.db, orgId);
    const now = new Date();
    return { api_keys: keys.map((key) => serializeApiKey(key, now)) };
  });
