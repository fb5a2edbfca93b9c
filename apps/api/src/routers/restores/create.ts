import { Job, QualifiedTable, RestoreTargetKind, TTL_HOURS } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeJob } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { requestRestore } from "../../services/restores.js";
import { scopedProcedure } from "../../trpc.js";
import { exact, projectId } from "../fields.js";

export const CreateRestoreInput = z.strictObject({
  id: projectId,
  backup_id: z.string().min(1).optional().describe("Backup id (`bkp_…`); this or backup_key"),
  backup_key: z.string().min(1).optional().describe("The backup's backup_key; this or backup_id"),
  target_kind: RestoreTargetKind.default("new_preview").describe("new_preview (default) | preview | project"),
  preview_name: z.string().trim().min(1).max(200).optional().describe("Name of the new preview"),
  ttl_hours: exact(z.number().int().min(TTL_HOURS.min).max(TTL_HOURS.max))
    .optional()
    .describe(`Hours until a new preview is dropped (${TTL_HOURS.min}-${TTL_HOURS.max}, default ${TTL_HOURS.default})`),
  preview_database_id: z.string().min(1).optional().describe('Target "preview": the preview to overwrite (`pvw_…`)'),
  tables: z.array(QualifiedTable).min(1).max(1000).optional().describe("Restore only these tables (`schema.table`)"),
  confirm: exact(z.boolean()).optional().describe('Target "project": must be true'),
  force: exact(z.boolean()).optional().describe("Restore a backup whose verification failed"),
});
export const CreateRestoreOutput = z.object({ job: Job });

export const createRestoreProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/projects/{id}/restores",
      operationId: "createRestore",
      tags: ["restores"],
      summary: "Restore a backup into a new preview database, over a preview, or over the project",
      description:
        "Creates a pending `restore` job and answers 201 with it (for preview targets its preview_database_id is set); poll GET /v1/jobs/{jobID}, " +
        "then read GET …/preview-databases/{previewID}/credentials. A backup whose verification failed is a 409 unless `force` is true. " +
        "Target `project` needs `confirm: true` (400 otherwise) and an organization admin session (API keys get 403); it takes a safety " +
        "backup (label `pre-restore <job id>`) first, restores into a new database and swaps it in by rename only once complete.",
      protect: true,
      errorResponses: [400, 403, 404, 409],
    },
    successStatus: 201,
  })
  .input(CreateRestoreInput)
  .output(CreateRestoreOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const deps = { ...ctx, previewsPerProject: ctx.config.previewsPerProject, keyring: ctx.config.keyring };
    const job = await requestRestore(deps, ctx.principal, project, input);
    await recordAudit(ctx, ctx.principal, {
      action: "restore.created",
      targetType: "job",
      targetId: job.id,
      projectId: project.id,
      metadata: { backup_id: job.backupId, target_kind: input.target_kind, preview_database_id: job.previewDatabaseId },
    });
    return { job: serializeJob(job) };
  });
