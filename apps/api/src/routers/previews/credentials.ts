import { PreviewCredentials } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { recordAudit } from "../../services/audit.js";
import { previewCredentials } from "../../services/previews.js";
import { scopedProcedure } from "../../trpc.js";
import { previewId, projectId } from "../fields.js";

export const PreviewCredentialsInput = z.object({ id: projectId, previewID: previewId });
export const PreviewCredentialsOutput = z.object({ credentials: PreviewCredentials });

export const previewCredentialsProcedure = scopedProcedure("credentials:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/preview-databases/{previewID}/credentials",
      operationId: "getPreviewDatabaseCredentials",
      tags: ["preview-databases"],
      summary: "The login of a ready preview database",
      description: "The preview's own role: it owns the preview database and can connect to it only. 409 until the preview is ready.",
      protect: true,
      errorResponses: [404, 409],
    },
  })
  .input(PreviewCredentialsInput)
  .output(PreviewCredentialsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const credentials = await previewCredentials(ctx.db, project, input.previewID, ctx.config.keyring);
    await recordAudit(ctx, ctx.principal, {
      action: "preview.credentials_read",
      targetType: "preview_database",
      targetId: input.previewID,
      projectId: project.id,
      metadata: {},
    });
    return { credentials };
  });
