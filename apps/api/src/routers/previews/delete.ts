import { PreviewDatabase } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializePreview } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { requestPreviewDeletion } from "../../services/previews.js";
import { scopedProcedure } from "../../trpc.js";
import { previewId, projectId } from "../fields.js";

export const DeletePreviewInput = z.strictObject({ id: projectId, previewID: previewId });
export const DeletePreviewOutput = z.object({ preview_database: PreviewDatabase });

export const deletePreviewProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "DELETE",
      path: "/projects/{id}/preview-databases/{previewID}",
      operationId: "deletePreviewDatabase",
      tags: ["preview-databases"],
      summary: "Delete a preview database (its database and role)",
      description:
        "Answers with the preview in state `deleting`; a worker drops its database and role within PREVIEW_SWEEP_INTERVAL_MS and marks it `deleted`. " +
        "An already deleted preview is a 404; one still being restored a 409.",
      protect: true,
      errorResponses: [404, 409],
    },
  })
  .input(DeletePreviewInput)
  .output(DeletePreviewOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const preview = await requestPreviewDeletion(ctx.db, project, input.previewID);
    await recordAudit(ctx, ctx.principal, {
      action: "preview.deleted",
      targetType: "preview_database",
      targetId: preview.id,
      projectId: project.id,
      metadata: {},
    });
    return { preview_database: serializePreview(preview) };
  });
