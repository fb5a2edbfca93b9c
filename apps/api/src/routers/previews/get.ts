import { PreviewDatabase } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializePreview } from "../../serializers.js";
import { getPreview } from "../../services/previews.js";
import { scopedProcedure } from "../../trpc.js";
import { previewId, projectId } from "../fields.js";

export const GetPreviewInput = z.object({ id: projectId, previewID: previewId });
export const GetPreviewOutput = z.object({ preview_database: PreviewDatabase });

export const getPreviewProcedure = scopedProcedure("backups:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/preview-databases/{previewID}",
      operationId: "getPreviewDatabase",
      tags: ["preview-databases"],
      summary: "Get one preview database",
      protect: true,
    },
  })
  .input(GetPreviewInput)
  .output(GetPreviewOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    return { preview_database: serializePreview(await getPreview(ctx.db, project, input.previewID)) };
  });
