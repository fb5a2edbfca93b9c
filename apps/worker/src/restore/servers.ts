// Which operator login creates and drops a restore's databases: PREVIEW_DATABASE_URL's server
// for previews when set, otherwise the cluster's registered admin login. A preview records where
// it lives (cluster_id null = the preview server) before anything is created there.
import type { Db, Keyring, PreviewDatabase } from "@capy/db";
import { ConfigurationError } from "../failures/errors.js";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { loadClusterAdmin } from "../postgres/target.js";

export interface ServerLogins {
  db: Db;
  keyring: Keyring | undefined;
  /** PREVIEW_DATABASE_URL's operator login. */
  previewServer?: DumpTarget | undefined;
}

export interface PreviewHome {
  admin: DumpTarget;
  /** null: the PREVIEW_DATABASE_URL server. */
  clusterId: string | null;
}

/** Where a new preview of a project on `clusterId` goes. */
export async function previewHome(logins: ServerLogins, clusterId: string): Promise<PreviewHome> {
  if (logins.previewServer) return { admin: logins.previewServer, clusterId: null };
  return { admin: await loadClusterAdmin(logins.db, clusterId, logins.keyring), clusterId };
}

/** The operator login of the server an existing preview lives on; null when none was recorded (nothing was created). */
export async function previewAdmin(logins: ServerLogins, preview: Pick<PreviewDatabase, "clusterId" | "host" | "port">): Promise<DumpTarget | null> {
  if (preview.host === null) return null;
  if (preview.clusterId) return loadClusterAdmin(logins.db, preview.clusterId, logins.keyring);
  const server = logins.previewServer;
  if (!server || server.host !== preview.host || server.port !== preview.port) {
    throw new ConfigurationError(`preview lives on ${preview.host}:${preview.port}, which is not this worker's PREVIEW_DATABASE_URL`);
  }
  return server;
}
