import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { auditedTarget, findWebhook, updateWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { exact } from "../fields.js";
import { webhookDescription, webhookEvents, webhookPath, webhookUrl } from "./fields.js";

export const UpdateWebhookInput = z.strictObject({
  ...webhookPath,
  url: webhookUrl.optional(),
  events: webhookEvents.optional(),
  description: webhookDescription.optional(),
  is_active: exact(z.boolean()).optional().describe("false pauses deliveries; true resumes them (and re-enables a disabled endpoint)"),
});
export const UpdateWebhookOutput = z.object({ webhook: Webhook });

export const updateWebhookProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "PATCH",
      path: "/organizations/{orgID}/webhooks/{webhookID}",
      operationId: "updateWebhook",
      tags: ["webhooks"],
      summary: "Change a webhook endpoint (url, events, description, is_active)",
      protect: true,
    },
  })
  .input(UpdateWebhookInput)
  .output(UpdateWebhookOutput)
  .mutation(async ({ ctx, input }) => {
    const existing = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    const webhook = await updateWebhook(ctx.db, ctx.webhooks, existing, {
      url: input.url,
      events: input.events,
      description: input.description,
      isActive: input.is_active,
    });
    await recordAudit(ctx, ctx.principal, {
      action: "webhook.updated",
      targetType: "webhook",
      targetId: webhook.id,
      projectId: webhook.projectId,
      metadata: { ...auditedTarget(webhook), events: webhook.events, is_active: webhook.isActive },
    });
    return { webhook: serializeWebhook(webhook) };
  });
