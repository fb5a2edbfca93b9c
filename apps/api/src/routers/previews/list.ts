import { PreviewDatabase } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializePreview } from "../../serializers.js";
import { listPreviews } from "../../services/previews.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const ListPreviewsInput = z.object({ id: projectId });
export const ListPreviewsOutput = z.object({ preview_databases: z.array(PreviewDatabase) });

export const listPreviewsProcedure = scopedProcedure("backups:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/preview-databases",
      operationId: "listPreviewDatabases",
      tags: ["preview-databases"],
      summary: "List the project's preview databases (not deleted ones), newest first",
      protect: true,
    },
  })
  .input(ListPreviewsInput)
  .output(ListPreviewsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    return { preview_databases: (await listPreviews(ctx.db, project)).map(serializePreview) };
  });
