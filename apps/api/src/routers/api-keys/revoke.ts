import { ApiKey } from "@capy/contracts";
import { z } from "zod";
import { serializeApiKey } from "../../serializers.js";
import { requireOrganization, revokeOrganizationApiKey } from "../../services/api-keys.js";
import { recordAudit } from "../../services/audit.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";

export const RevokeApiKeyInput = z.object({ orgID: organizationId, keyID: z.string().min(1).describe("API key id (`key_…`)") });
export const RevokeApiKeyOutput = z.object({ api_key: ApiKey });

export const revokeApiKeyProcedure = scopedProcedure("api_keys:write")
  .meta({
    openapi: {
      method: "DELETE",
      path: "/organizations/{orgID}/api-keys/{keyID}",
      operationId: "revokeApiKey",
      tags: ["api keys"],
      summary: "Revoke an API key",
      description: "The key stops working at once. Revoking a revoked key answers it unchanged.",
      protect: true,
    },
  })
  .input(RevokeApiKeyInput)
  .output(RevokeApiKeyOutput)
  .mutation(async ({ ctx, input }) => {
    const orgId = requireOrganization(ctx.principal, input.orgID);
    const { key, revoked } = await revokeOrganizationApiKey(ctx.db, orgId, input.keyID);
    if (revoked) {
      // Before answering: every API process drops the key before the caller can use it again.
      await ctx.tenancy.announceChange();
      await recordAudit(ctx, ctx.principal, {
        action: "api_key.revoked",
        targetType: "api_key",
        targetId: key.id,
        projectId: key.projectId,
        metadata: { name: key.name, key_prefix: key.keyPrefix },
      });
    }
    return { api_key: serializeApiKey(key) };
  });
