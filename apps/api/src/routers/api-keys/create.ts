import { ApiKey, Scope } from "@capy/contracts";
import { z } from "zod";
import { serializeApiKey } from "../../serializers.js";
import { createOrganizationApiKey, requireOrganization } from "../../services/api-keys.js";
import { recordAudit } from "../../services/audit.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";

export const CreateApiKeyInput = z.strictObject({
  orgID: organizationId,
  name: z.string().trim().min(1).max(100).describe("A name to recognise the key by (1-100 characters)"),
  scopes: z.array(Scope).min(1).describe("Scopes the key holds; only scopes the caller holds can be granted"),
  project_id: z.string().min(1).nullable().optional().describe("Restricts the key to this project; project keys hold project scopes only"),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional().describe("Expiry (ISO-8601, in the future); null or absent for none"),
});
export const CreateApiKeyOutput = z.object({
  api_key: ApiKey,
  secret: z.string().describe("The key itself (`capy_live_…`), shown only in this response"),
});

export const createApiKeyProcedure = scopedProcedure("api_keys:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/organizations/{orgID}/api-keys",
      operationId: "createApiKey",
      tags: ["api keys"],
      summary: "Create an API key",
      description: "Answers 201 with the key and its secret. The secret is shown once; only its SHA-256 is stored.",
      protect: true,
    },
    successStatus: 201,
  })
  .input(CreateApiKeyInput)
  .output(CreateApiKeyOutput)
  .mutation(async ({ ctx, input }) => {
    const orgId = requireOrganization(ctx.principal, input.orgID);
    const { key, plaintext } = await createOrganizationApiKey(ctx, ctx.principal, orgId, {
      name: input.name,
      scopes: input.scopes,
      projectId: input.project_id ?? null,
      expiresAt: input.expires_at ? new Date(input.expires_at) : null,
    });
    await recordAudit(ctx, ctx.principal, {
      action: "api_key.created",
      targetType: "api_key",
      targetId: key.id,
      projectId: key.projectId,
      metadata: { name: key.name, key_prefix: key.keyPrefix, scopes: key.scopes, expires_at: key.expiresAt?.toISOString() ?? null },
    });
    return { api_key: serializeApiKey(key), secret: plaintext };
  });
