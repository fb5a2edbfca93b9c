// GET /v1/projects/{id}/backups/{backupID}/download: a plain Fastify route, since it streams
// binary; the same authentication, scope and tenancy checks as the tRPC procedures, and the
// same `{ error }` answers (through the app's error handler). Memory stays flat: the artifact
// is piped from storage to the socket.
import type { FastifyInstance } from "fastify";
import { findAccessibleProject } from "../auth/access.js";
import { requireScope } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";
import { recordAudit } from "../services/audit.js";
import { openBackupArtifact } from "../services/backups.js";

export const DOWNLOAD_PATH = "/v1/projects/:id/backups/:backupID/download";

export function registerDownloadRoute(app: FastifyInstance, deps: Pick<AppDeps, "db" | "tenancy" | "storage" | "authenticate">): void {
  app.get<{ Params: { id: string; backupID: string } }>(DOWNLOAD_PATH, async (request, reply) => {
    const principal = await deps.authenticate(request.headers);
    requireScope(principal, "backups:read");
    const project = await findAccessibleProject(deps.tenancy, principal, request.params.id);
    const artifact = await openBackupArtifact(deps.db, deps.storage, project, request.params.backupID);
    await recordAudit({ db: deps.db, log: request.log }, principal, {
      action: "backup.downloaded",
      targetType: "backup",
      targetId: request.params.backupID,
      projectId: project.id,
      metadata: { size_bytes: artifact.sizeBytes },
    });
    return reply
      .header("content-type", "application/octet-stream")
      .header("content-length", artifact.sizeBytes)
      .header("content-disposition", `attachment; filename="${artifact.filename}"`)
      .send(artifact.body);
  });
}
