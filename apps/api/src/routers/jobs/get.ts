import { Job } from "@capy/contracts";
import { z } from "zod";
import { serializeJob } from "../../serializers.js";
import { getJob } from "../../services/jobs.js";
import { scopedProcedure } from "../../trpc.js";

export const GetJobInput = z.object({ jobID: z.string().min(1).describe("Job id (`job_…`)") });
export const GetJobOutput = z.object({ job: Job });

export const getJobProcedure = scopedProcedure("jobs:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/jobs/{jobID}",
      operationId: "getJob",
      tags: ["jobs"],
      summary: "Get one job",
      protect: true,
    },
  })
  .input(GetJobInput)
  .output(GetJobOutput)
  .query(async ({ ctx, input }) => {
    return { job: serializeJob(await getJob(ctx.db, ctx.principal, input.jobID)) };
  });
