import { Project } from "@capy/contracts";
import { z } from "zod";
import { serializeProject } from "../../serializers.js";
import { listVisibleProjects } from "../../services/projects.js";
import { scopedProcedure } from "../../trpc.js";

export const ListProjectsInput = z.object({});
export const ListProjectsOutput = z.object({ projects: z.array(Project) });

export const listProjectsProcedure = scopedProcedure("projects:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects",
      operationId: "listProjects",
      tags: ["projects"],
      summary: "List the projects the caller can act on, by name",
      description: "An organization key or session sees every project of its organization; a project key sees its own project only.",
      protect: true,
    },
  })
  .input(ListProjectsInput)
  .output(ListProjectsOutput)
  .query(async ({ ctx }) => ({ projects: (await listVisibleProjects(ctx.db, ctx.principal)).map(serializeProject) }));
