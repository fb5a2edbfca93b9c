import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { auditedTarget, deleteWebhook, findWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const DeleteWebhookInput = z.object(webhookPath);
export const DeleteWebhookOutput = z.object({ webhook: Webhook });

export const deleteWebhookProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "DELETE",
      path: "/organizations/{orgID}/webhooks/{webhookID}",
      operationId: "deleteWebhook",
      tags: ["webhooks"],
      summary: "Delete a webhook endpoint and its deliveries",
      description: "Pending deliveries are not sent. Answers the endpoint as it was.",
      protect: true,
    },
  })
  .input(DeleteWebhookInput)
  .output(DeleteWebhookOutput)
  .mutation(async ({ ctx, input }) => {
    const webhook = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    await deleteWebhook(ctx.db, webhook);
    await recordAudit(ctx, ctx.principal, {
      action: "webhook.deleted",
      targetType: "webhook",
      targetId: webhook.id,
      projectId: webhook.projectId,
      metadata: auditedTarget(webhook),
    });
    return { webhook: serializeWebhook(webhook) };
  });
