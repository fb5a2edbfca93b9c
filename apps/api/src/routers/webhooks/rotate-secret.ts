import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { findWebhook, rotateWebhookSecret } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const RotateWebhookSecretInput = z.object(webhookPath);
export const RotateWebhookSecretOutput = z.object({
  webhook: Webhook,
  secret: z.string().describe("The new signing secret (`whsec_…`), shown only in this response"),
});

export const rotateWebhookSecretProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/organizations/{orgID}/webhooks/{webhookID}/rotate-secret",
      operationId: "rotateWebhookSecret",
      tags: ["webhooks"],
      summary: "Replace the signing secret",
      description:
        "For the next 24 hours deliveries carry two v1 signatures, of the new and of the previous secret, so receivers can switch without missing any.",
      protect: true,
    },
  })
  .input(RotateWebhookSecretInput)
  .output(RotateWebhookSecretOutput)
  .mutation(async ({ ctx, input }) => {
    const existing = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    const { webhook, secret } = await rotateWebhookSecret(ctx.db, ctx.webhooks, existing);
    await recordAudit(ctx, ctx.principal, { action: "webhook.secret_rotated", targetType: "webhook", targetId: webhook.id, projectId: webhook.projectId });
    return { webhook: serializeWebhook(webhook), secret };
  });
