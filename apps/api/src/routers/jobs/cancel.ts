import { Job } from "@capy/contracts";
import { z } from "zod";
import { serializeJob } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { cancelJob } from "../../services/cancel.js";
import { scopedProcedure } from "../../trpc.js";

export const CancelJobInput = z.object({ jobID: z.string().min(1).describe("Job id (`job_…`)") });
export const CancelJobOutput = z.object({ job: Job });

export const cancelJobProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/jobs/{jobID}/cancel",
      operationId: "cancelJob",
      tags: ["jobs"],
      summary: "Cancel a job",
      description:
        "A pending job is canceled at once (state `canceled`, retry_classification `canceled`). A running job gets a cancel " +
        "request: it stays `running` until its worker stops the attempt and marks it `canceled`; poll GET /v1/jobs/{jobID}. " +
        "Repeating the request is harmless. A finished job (completed, failed, canceled) answers 409.",
      protect: true,
      errorResponses: [409],
    },
  })
  .input(CancelJobInput)
  .output(CancelJobOutput)
  .mutation(async ({ ctx, input }) => {
    const { job, effect } = await cancelJob(ctx, ctx.principal, input.jobID);
    if (effect !== "already_requested") {
      await recordAudit(ctx, ctx.principal, {
        action: "job.canceled",
        targetType: "job",
        targetId: job.id,
        projectId: job.projectId,
        metadata: { type: job.type, effect },
      });
    }
    return { job: serializeJob(job) };
  });
