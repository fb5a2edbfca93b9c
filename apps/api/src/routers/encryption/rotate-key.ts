import { EncryptionKey } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { recordAudit } from "../../services/audit.js";
import { rotatePlatformKey } from "../../services/encryption.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";
import { serializePlatformKey } from "./serialize.js";

export const RotateKeyInput = z.strictObject({ id: projectId });
export const RotateKeyOutput = z.object({ encryption_key: EncryptionKey.describe("The new current key") });

export const rotateKeyProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/projects/{id}/encryption-keys/rotate",
      operationId: "rotateEncryptionKey",
      tags: ["encryption"],
      summary: "Make a new platform key for new artifacts",
      description:
        "Answers 201 with the new current key (public part). The previous key is retired: it still decrypts the artifacts made with it, " +
        "which keep verifying, restoring and downloading. Nothing is re-encrypted.",
      protect: true,
    },
    successStatus: 201,
  })
  .input(RotateKeyInput)
  .output(RotateKeyOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const key = await rotatePlatformKey(ctx.db, ctx.config.keyring, project);
    await recordAudit(ctx, ctx.principal, {
      action: "encryption_key.rotated",
      targetType: "encryption_key",
      targetId: key.id,
      projectId: project.id,
      metadata: { public_key: key.publicKey },
    });
    return { encryption_key: serializePlatformKey(key) };
  });
