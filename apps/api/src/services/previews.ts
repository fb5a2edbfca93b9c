// Preview databases: reading them, asking for one's deletion (the worker's preview sweep drops
// its database and role, then marks it `deleted`), and opening its credentials.
import type { PreviewCredentials } from "@capy/contracts";
import type { Db, Keyring, PreviewDatabase, Project } from "@capy/db";
import { AppError } from "../errors.js";

const NOT_FOUND = "preview database not found";

/** Newest first; deleted previews are history and not listed. */
export function listPreviews(db: Db, project: Project): Promise<PreviewDatabase[]> {
  return db.previewDatabase.findMany({
    where: { projectId: project.id, state: { not: "deleted" } },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
  });
}

export async function getPreview(db: Db, project: Project, previewId: string): Promise<PreviewDatabase> {
  const preview = await db.previewDatabase.findFirst({ where: { id: previewId, projectId: project.id } });
  if (!preview) throw new AppError("NOT_FOUND", NOT_FOUND);
  return preview;
}

/**
 * Marks a ready or failed preview `deleting` in one conditional statement; the preview sweep drops
 * its database and role. A preview already deleted (or being deleted) is gone: 404. One being
 * restored is a 409 (cancel its restore job first).
 */
export async function requestPreviewDeletion(db: Db, project: Project, previewId: string): Promise<PreviewDatabase> {
  const { count } = await db.previewDatabase.updateMany({
    where: { id: previewId, projectId: project.id, state: { in: ["ready", "failed"] } },
    data: { state: "deleting" },
  });
  const preview = await getPreview(db, project, previewId);
  if (count === 1) return preview;
  if (preview.state === "creating") throw new AppError("CONFLICT", "preview database is being restored; cancel its restore job first");
  throw new AppError("NOT_FOUND", NOT_FOUND);
}

/** The login of a ready preview, its password opened with the keyring. */
export async function previewCredentials(db: Db, project: Project, previewId: string, keyring: Keyring | undefined): Promise<PreviewCredentials> {
  const preview = await getPreview(db, project, previewId);
  if (preview.state !== "ready" || preview.host === null || preview.port === null) {
    throw new AppError("CONFLICT", `preview database is not ready (state: ${preview.state})`);
  }
  if (!keyring) throw new Error("CAPY_ENCRYPTION_KEY is not set; preview passwords cannot be opened");
  const password = keyring.open(preview.passwordEncrypted);
  const user = preview.databaseName;
  const host = preview.host.includes(":") ? `[${preview.host}]` : preview.host;
  const uri = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${preview.port}/${encodeURIComponent(preview.databaseName)}`;
  return { host: preview.host, port: preview.port, database: preview.databaseName, user, password, connection_uri: uri };
}
