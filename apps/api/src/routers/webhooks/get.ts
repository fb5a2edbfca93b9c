import { Webhook } from "@capy/contracts";
import { z } from "zod";
import { serializeWebhook } from "../../serializers.js";
import { findWebhook } from "../../services/webhooks.js";
import { scopedProcedure } from "../../trpc.js";
import { webhookPath } from "./fields.js";

export const GetWebhookInput = z.object(webhookPath);
export const GetWebhookOutput = z.object({ webhook: Webhook });

export const getWebhookProcedure = scopedProcedure("webhooks:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/organizations/{orgID}/webhooks/{webhookID}",
      operationId: "getWebhook",
      tags: ["webhooks"],
      summary: "Get a webhook endpoint",
      protect: true,
    },
  })
  .input(GetWebhookInput)
  .output(GetWebhookOutput)
  .query(async ({ ctx, input }) => {
    const webhook = await findWebhook(ctx.db, ctx.principal, input.orgID, input.webhookID);
    return { webhook: serializeWebhook(webhook) };
  });
