import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { listWebhooks } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";

export const ListWebhooksInput = z.object({ orgID: organizationId });
export const ListWebhooksOutput = z.object({ webhooks: z.array(Webhook) });

export const listWebhooksProcedure = scopedProcedure("webhooks:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/organizations/{orgID}/webhooks",
      operationId: "listWebhooks",
      tags: ["webhooks"],
      summary: "List the organization's webhook endpoints, newest first (a project key sees its project's only)",
      protect: true,
    },
  })
  .input(ListWebhooksInput)
  .output(ListWebhooksOutput)
  .query(async ({ ctx, input }) => {
    const webhooks = await listWebhooks(ctx.db, ctx.principal, input.orgID);
    return { webhooks: webhooks.map(serializeWebhook) };
  });
