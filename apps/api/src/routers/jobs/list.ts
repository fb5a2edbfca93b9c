import { Job } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeJob } from "../../serializers.js";
import { listJobs } from "../../services/jobs.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const ListJobsInput = z.object({
  id: projectId,
  limit: z.int().min(1).max(100).default(25).describe("Most jobs to return (1-100, default 25)"),
});
export const ListJobsOutput = z.object({ jobs: z.array(Job) });

export const listJobsProcedure = scopedProcedure("jobs:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/jobs",
      operationId: "listJobs",
      tags: ["jobs"],
      summary: "List the project's jobs, newest first",
      protect: true,
    },
  })
  .input(ListJobsInput)
  .output(ListJobsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const jobs = await listJobs(ctx.db, project, input.limit);
    return { jobs: jobs.map(serializeJob) };
  });
