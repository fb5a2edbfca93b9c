import { WebhookDelivery } from "@capy/contracts";
import { z } from "zod";
import { serializeDelivery } from "../../serializers.js";
import { listDeliveries } from "../../services/webhook-deliveries.js";
import { findWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const ListDeliveriesInput = z.object({
  ...webhookPath,
  limit: z.int().min(1).max(100).default(25).describe("Most deliveries to return (1-100, default 25)"),
});
export const ListDeliveriesOutput = z.object({ deliveries: z.array(WebhookDelivery) });

export const listDeliveriesProcedure = scopedProcedure("webhooks:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/organizations/{orgID}/webhooks/{webhookID}/deliveries",
      operationId: "listWebhookDeliveries",
      tags: ["webhooks"],
      summary: "List the endpoint's deliveries, newest first",
      protect: true,
    },
  })
  .input(ListDeliveriesInput)
  .output(ListDeliveriesOutput)
  .query(async ({ ctx, input }) => {
    const webhook = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    const deliveries = await listDeliveries(ctx.db, webhook, input.limit);
    return { deliveries: deliveries.map(serializeDelivery) };
  });
