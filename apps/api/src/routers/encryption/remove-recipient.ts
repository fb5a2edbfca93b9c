import { EncryptionRecipient } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { recordAudit } from "../../services/audit.js";
import { removeRecipient } from "../../services/encryption.js";
import { scopedProcedure } from "../../trpc.js";
import { recipientPath } from "./fields.js";
import { serializeRecipient } from "./serialize.js";

export const RemoveRecipientInput = z.strictObject(recipientPath);
export const RemoveRecipientOutput = z.object({ encryption_recipient: EncryptionRecipient });

export const removeRecipientProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "DELETE",
      path: "/projects/{id}/encryption-recipients/{recipientID}",
      operationId: "deleteEncryptionRecipient",
      tags: ["encryption"],
      summary: "Remove an encryption recipient",
      description:
        "Artifacts made from now on are no longer encrypted to it; artifacts made earlier still are (nothing is re-encrypted). Answers the recipient as it was.",
      protect: true,
    },
  })
  .input(RemoveRecipientInput)
  .output(RemoveRecipientOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const recipient = await removeRecipient(ctx.db, project, input.recipientID);
    await recordAudit(ctx, ctx.principal, {
      action: "encryption_recipient.deleted",
      targetType: "encryption_recipient",
      targetId: recipient.id,
      projectId: project.id,
      metadata: { label: recipient.label, fingerprint: recipient.fingerprint },
    });
    return { encryption_recipient: serializeRecipient(recipient) };
  });
