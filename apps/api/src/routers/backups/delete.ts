import { Backup } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeBackup } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { deleteBackup } from "../../services/delete-backup.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const DeleteBackupInput = z.strictObject({ id: projectId, backupID: z.string().min(1).describe("Backup id (`bkp_…`)") });
export const DeleteBackupOutput = z.object({ backup: Backup });

export const deleteBackupProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "DELETE",
      path: "/projects/{id}/backups/{backupID}",
      operationId: "deleteBackup",
      tags: ["backups"],
      summary: "Delete a backup and its artifact",
      description:
        "Removes the backup's row and its stored artifact and answers with the backup as it was. 409 while the backup is still being made or verified (verification pending, or a backup or verify job for it pending or running).",
      protect: true,
      errorResponses: [409],
    },
  })
  .input(DeleteBackupInput)
  .output(DeleteBackupOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const backup = await deleteBackup(ctx, project, input.backupID);
    await recordAudit(ctx, ctx.principal, {
      action: "backup.deleted",
      targetType: "backup",
      targetId: backup.id,
      projectId: project.id,
      metadata: { label: backup.label, size_bytes: Number(backup.sizeBytes), schedule_id: backup.scheduleId },
    });
    return { backup: serializeBackup(backup) };
  });
