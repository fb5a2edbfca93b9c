import { EncryptionRecipient } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { recordAudit } from "../../services/audit.js";
import { addRecipient, MAX_RECIPIENTS_PER_PROJECT } from "../../services/encryption.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";
import { serializeRecipient } from "./serialize.js";

export const AddRecipientInput = z.strictObject({
  id: projectId,
  label: z.string().trim().min(1).max(200).describe("Whose key this is, up to 200 characters"),
  public_key: z.string().max(200).describe("age X25519 public key (`age1…`, as printed by `age-keygen`)"),
});
export const AddRecipientOutput = z.object({ encryption_recipient: EncryptionRecipient });

export const addRecipientProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/projects/{id}/encryption-recipients",
      operationId: "createEncryptionRecipient",
      tags: ["encryption"],
      summary: "Add a public key that new artifacts are encrypted to",
      description:
        "Answers 201 with the recipient. Every artifact made from now on is also encrypted to it, so its identity decrypts a `?encoding=stored` " +
        `download offline with \`age -d\`; artifacts made earlier are not. 400 unless public_key is an age X25519 public key; 409 when it is ` +
        `already a recipient of the project, or the project has ${MAX_RECIPIENTS_PER_PROJECT} already.`,
      protect: true,
      errorResponses: [409],
    },
    successStatus: 201,
  })
  .input(AddRecipientInput)
  .output(AddRecipientOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const recipient = await addRecipient(ctx.db, project, input.label, input.public_key);
    await recordAudit(ctx, ctx.principal, {
      action: "encryption_recipient.created",
      targetType: "encryption_recipient",
      targetId: recipient.id,
      projectId: project.id,
      metadata: { label: recipient.label, fingerprint: recipient.fingerprint },
    });
    return { encryption_recipient: serializeRecipient(recipient) };
  });
