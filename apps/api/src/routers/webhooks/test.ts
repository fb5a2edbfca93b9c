import { WebhookDelivery } from "@capy/contracts";
import { z } from "zod";
import { serializeDelivery } from "../../serializers.js";
import { sendPing } from "../../services/webhook-deliveries.js";
import { findWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const TestWebhookInput = z.object(webhookPath);
export const TestWebhookOutput = z.object({ delivery: WebhookDelivery });

export const testWebhookProcedure = scopedProcedure("webhooks:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/organizations/{orgID}/webhooks/{webhookID}/test",
      operationId: "testWebhook",
      tags: ["webhooks"],
      summary: "Send a ping event to the endpoint",
      description: "Answers 201 with the pending delivery; follow it in GET …/deliveries. 409 while the endpoint is inactive or disabled.",
      protect: true,
      errorResponses: [409],
    },
    successStatus: 201,
  })
  .input(TestWebhookInput)
  .output(TestWebhookOutput)
  .mutation(async ({ ctx, input }) => {
    const webhook = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    const delivery = await sendPing(ctx.db, ctx.webhooks.queue, ctx.log, webhook);
    return { delivery: serializeDelivery(delivery) };
  });
