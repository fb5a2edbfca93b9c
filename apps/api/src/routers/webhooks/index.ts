import { router } from "../../trpc.js";
import { createWebhookProcedure } from "./create.js";
import { deleteWebhookProcedure } from "./delete.js";
import { listDeliveriesProcedure } from "./deliveries.js";
import { getWebhookProcedure } from "./get.js";
import { listWebhooksProcedure } from "./list.js";
import { redeliverProcedure } from "./redeliver.js";
import { rotateWebhookSecretProcedure } from "./rotate-secret.js";
import { testWebhookProcedure } from "./test.js";
import { updateWebhookProcedure } from "./update.js";

export const webhooksRouter = router({
  list: listWebhooksProcedure,
  get: getWebhookProcedure,
  create: createWebhookProcedure,
  update: updateWebhookProcedure,
  delete: deleteWebhookProcedure,
  rotateSecret: rotateWebhookSecretProcedure,
  test: testWebhookProcedure,
  deliveries: listDeliveriesProcedure,
  redeliver: redeliverProcedure,
});
