import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { auditedTarget, createWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";
import { webhookDescription, webhookEvents, webhookUrl } from "./fields.js";

export const CreateWebhookInput = z.strictObject({
  orgID: organizationId,
  url: webhookUrl,
  events: webhookEvents,
  description: webhookDescription.optional(),
  project_id: z.string().min(1).nullable().optional().describe("Deliver only this project's events; a project key's webhooks always belong to its project"),
});
export const CreateWebhookOutput = z.object({
  webhook: Webhook,
  secret: z.string().describe("The signing secret (`whsec_…`), shown only in this response"),
});

export const createWebhookProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/organizations/{orgID}/webhooks",
      operationId: "createWebhook",
      tags: ["webhooks"],
      summary: "Create a webhook endpoint",
      description:
        "Answers 201 with the endpoint and its signing secret, shown once. The URL must be https and resolve to public addresses only. " +
        'Deliveries are POSTs of `{ id, type, created_at, data }` signed in X-CapyDB-Signature (`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).',
      protect: true,
    },
    successStatus: 201,
  })
  .input(CreateWebhookInput)
  .output(CreateWebhookOutput)
  .mutation(async ({ ctx, input }) => {
    const { webhook, secret } = await createWebhook(ctx.db, ctx.webhooks, ctx.principal, input.orgID, {
      url: input.url,
      events: input.events,
      description: input.description ?? null,
      projectId: input.project_id ?? null,
    });
    await recordAudit(ctx, ctx.principal, {
      action: "webhook.created",
      targetType: "webhook",
      targetId: webhook.id,
      projectId: webhook.projectId,
      metadata: { ...auditedTarget(webhook), events: webhook.events },
    });
    return { webhook: serializeWebhook(webhook), secret };
  });
