import { EncryptionRecipient } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { listRecipients } from "../../services/encryption.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";
import { serializeRecipient } from "./serialize.js";

export const ListRecipientsInput = z.strictObject({ id: projectId });
export const ListRecipientsOutput = z.object({ encryption_recipients: z.array(EncryptionRecipient) });

// backups:write, as issue 19 specifies for every recipients endpoint: whoever may change the
// recipients may read them.
export const listRecipientsProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/encryption-recipients",
      operationId: "listEncryptionRecipients",
      tags: ["encryption"],
      summary: "List the project's own encryption recipients, oldest first",
      description: "Public keys every new artifact of the project is encrypted to, besides the platform key.",
      protect: true,
    },
  })
  .input(ListRecipientsInput)
  .output(ListRecipientsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    return { encryption_recipients: (await listRecipients(ctx.db, project)).map(serializeRecipient) };
  });
