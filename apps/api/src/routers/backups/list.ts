import { Backup } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeBackup } from "../../serializers.js";
import { listBackups } from "../../services/backups.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const ListBackupsInput = z.object({ id: projectId });
export const ListBackupsOutput = z.object({ backups: z.array(Backup) });

export const listBackupsProcedure = scopedProcedure("backups:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/backups",
      operationId: "listBackups",
      tags: ["backups"],
      summary: "List the project's backups, newest first",
      protect: true,
    },
  })
  .input(ListBackupsInput)
  .output(ListBackupsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const backups = await listBackups(ctx.db, project);
    return { backups: backups.map(serializeBackup) };
  });
