import { Job } from "@capy/contracts";
import { newId } from "@capy/db";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeJob } from "../../serializers.js";
import { auditRow } from "../../services/audit.js";
import { requestBackupOnce } from "../../services/backups.js";
import { readIdempotencyKey } from "../../services/idempotency.js";
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
      description:
        "Creates a pending backup job and answers 201 with it; poll GET /v1/jobs/{jobID}. An empty body is valid. " +
        "With an `Idempotency-Key` header (printable ASCII, at most 255 characters), a repeat of the request for the same project " +
        "within 24 hours answers 201 with the job the first request created instead of creating another (concurrent repeats " +
        "create one job); after 24 hours the key may be used again.",
      protect: true,
      errorResponses: [409],
      // Documentation only: the procedure reads and validates the header itself (readIdempotencyKey).
      requestHeaders: z.object({
        "Idempotency-Key": z
          .string()
          .max(255)
          .optional()
          .describe("Makes retries safe: repeats with this key within 24 hours answer with the first request's job (printable ASCII, at most 255 characters)"),
      }),
    },
    successStatus: 201,
  })
  .input(CreateBackupInput)
  .output(CreateBackupOutput)
  .mutation(async ({ ctx, input }) => {
    // Validated before any work, so a malformed key never creates a job.
    const idempotencyKey = readIdempotencyKey(ctx.headers);
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const jobId = newId("job");
    const label = input.label ?? null;
    // Recorded in the job's own INSERT, and only when this request creates the job.
    const audit = auditRow(ctx.principal, { action: "backup.created", targetType: "job", targetId: jobId, projectId: project.id, metadata: { label } });
    const { job } = await requestBackupOnce(ctx, project, { jobId, label, idempotencyKey, audit });
    return { job: serializeJob(job) };
  });
