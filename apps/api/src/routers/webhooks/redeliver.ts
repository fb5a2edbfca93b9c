import { WebhookDelivery } from "@capy/contracts";
import { z } from "zod";
import { serializeDelivery } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { redeliver } from "../../services/webhook-deliveries.js";
import { findWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const RedeliverInput = z.object({ ...webhookPath, deliveryID: z.string().min(1).describe("Delivery id (`dlv_…`)") });
export const RedeliverOutput = z.object({ delivery: WebhookDelivery });

export const redeliverProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/organizations/{orgID}/webhooks/{webhookID}/deliveries/{deliveryID}/redeliver",
      operationId: "redeliverWebhookDelivery",
      tags: ["webhooks"],
      summary: "Send a finished delivery again",
      description: "Same delivery id (X-CapyDB-Delivery) and body, up to 8 more attempts. 409 while it is still pending.",
      protect: true,
      errorResponses: [409],
    },
  })
  .input(RedeliverInput)
  .output(RedeliverOutput)
  .mutation(async ({ ctx, input }) => {
    const webhook = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    const delivery = await redeliver(ctx.db, ctx.webhooks.queue, ctx.log, webhook, input.deliveryID);
    await recordAudit(ctx, ctx.principal, {
      action: "webhook.redelivered",
      targetType: "webhook_delivery",
      targetId: delivery.id,
      projectId: webhook.projectId,
      metadata: { webhook_id: webhook.id },
    });
    return { delivery: serializeDelivery(delivery) };
  });
