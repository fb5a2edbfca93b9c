// GET /v1/projects/{id}/backups/{backupID}/download: a plain Fastify route, since it streams
// binary; the same authentication, scope and tenancy checks as the tRPC procedures, and the
// same `{ error }` answers (through the app's error handler). Memory stays flat: the artifact
// is piped from storage (through age -d when stored encrypted, zstd -d when stored compressed)
// to the socket. `?encoding=stored` gives the stored bytes as they are (for an encrypted
// artifact, the age stream a customer decrypts with their own identity); a failure mid-stream
// (a checksum mismatch, age or zstd failing) aborts the response, so a client never mistakes it
// for a whole file.
import type { FastifyInstance } from "fastify";
import { findAccessibleProject } from "../auth/access.js";
import { requireScope } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";
import { AppError } from "../errors.js";
import { recordAudit } from "../services/audit.js";
import { openBackupArtifact } from "../services/backups.js";

export const DOWNLOAD_PATH = "/v1/projects/:id/backups/:backupID/download";

/** `?encoding=`: "archive" (default) is what pg_restore reads; "stored" the bytes as stored. */
export const DOWNLOAD_ENCODINGS = ["archive", "stored"] as const;

export function registerDownloadRoute(app: FastifyInstance, deps: Pick<AppDeps, "db" | "tenancy" | "storage" | "authenticate" | "zstd" | "decrypt">): void {
  app.get<{ Params: { id: string; backupID: string }; Querystring: { encoding?: string } }>(DOWNLOAD_PATH, async (request, reply) => {
    const principal = await deps.authenticate(request.headers);
    requireScope(principal, "backups:read");
    const encoding = request.query.encoding ?? "archive";
    if (!(DOWNLOAD_ENCODINGS as readonly string[]).includes(encoding))
      throw new AppError("BAD_REQUEST", `encoding must be one of ${DOWNLOAD_ENCODINGS.join(", ")}`);
    const project = await findAccessibleProject(deps.tenancy, principal, request.params.id);
    const as = encoding as (typeof DOWNLOAD_ENCODINGS)[number];
    const artifact = await openBackupArtifact(deps.db, deps.storage, project, request.params.backupID, { as, zstd: deps.zstd, ...deps.decrypt });
    await recordAudit({ db: deps.db, log: request.log }, principal, {
      action: "backup.downloaded",
      targetType: "backup",
      targetId: request.params.backupID,
      projectId: project.id,
      metadata: { size_bytes: artifact.sizeBytes, encoding },
    });
    if (artifact.sizeBytes !== null) reply.header("content-length", artifact.sizeBytes);
    return reply.header("content-type", artifact.contentType).header("content-disposition", `attachment; filename="${artifact.filename}"`).send(artifact.body);
  });
}
