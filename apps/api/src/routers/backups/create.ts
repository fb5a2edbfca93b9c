import { Job } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeJob } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { requestBackup } from "../../services/backups.js";
import { scopedProcedure } from "../../trpc.js";
import { label, projectId } from "../fields.js";

export const CreateBackupInput = z.strictObject({ id: projectId, label: label.optional() });
export const CreateBackupOutput = z.object({ job: Job });

export const createBackupProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/projects/{id}/backups",
      operationId: "createBackup",
      tags: ["backups"],
      summary: "Start an on-demand backup",
      description: "Creates a pending backup job and answers 201 with it; poll GET /v1/jobs/{jobID}. An empty body is valid.",
      protect: true,
    },
    successStatus: 201,
  })
  .input(CreateBackupInput)
  .output(CreateBackupOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.db, ctx.principal, input.id);
    const job = await requestBackup(ctx, project, input.label ?? null);
    await recordAudit(ctx, ctx.principal, {
      action: "backup.created",
      targetType: "job",
      targetId: job.id,
      projectId: project.id,
      metadata: { label: job.label ?? null },
    });
    return { job: serializeJob(job) };
  });
