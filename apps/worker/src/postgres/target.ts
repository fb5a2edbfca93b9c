// Where a project's database lives and how to log in: the project row, its cluster, and the
// password opened with the keyring (only in memory, only for this attempt).
import { type Db, type Keyring, KeyringError, parsePostgresUrl } from "@capy/db";
import { ConfigurationError } from "../failures/errors.js";
import type { DumpTarget } from "./pg-dump.js";

export async function loadDumpTarget(db: Db, projectId: string, keyring: Keyring | undefined): Promise<DumpTarget> {
  const project = await db.project.findUnique({ where: { id: projectId }, include: { cluster: true } });
  if (!project) throw new ConfigurationError(`project ${projectId} does not exist`);
  return {
    host: project.cluster.host,
    port: project.cluster.port,
    user: project.dbUser,
    database: project.databaseName,
    password: project.dbPasswordEncrypted === null ? null : decryptPassword(project.dbPasswordEncrypted, keyring),
  };
}

/** The cluster's admin login, for throwaway verification databases and restores (`database` is the maintenance one). */
export async function loadClusterAdmin(db: Db, clusterId: string, keyring: Keyring | undefined): Promise<DumpTarget> {
  const cluster = await db.cluster.findUnique({ where: { id: clusterId } });
  if (!cluster) throw new ConfigurationError(`cluster ${clusterId} does not exist`);
  return clusterAdmin(cluster, keyring);
}

/**
 * A cluster's operator login. Only a login an operator registered (`admin register-cluster`)
 * creates databases: a cluster known only from a project's connection has none.
 */
export function clusterAdmin(
  cluster: { id: string; host: string; port: number; adminUser: string; adminPasswordEncrypted: string | null; adminRegisteredAt: Date | null },
  keyring: Keyring | undefined,
): DumpTarget {
  if (!cluster.adminRegisteredAt) {
    throw new ConfigurationError(`cluster ${cluster.id} (${cluster.host}:${cluster.port}) has no registered operator login; run \`admin register-cluster\``);
  }
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.adminUser,
    database: "postgres",
    password: cluster.adminPasswordEncrypted === null ? null : decryptPassword(cluster.adminPasswordEncrypted, keyring, "cluster's admin"),
  };
}

/** Opens a stored password; ConfigurationError (not retried) without the key that sealed it. */
export function decryptPassword(stored: string, keyring: Keyring | undefined, whose = "project's database"): string {
  if (!keyring) {
    throw new ConfigurationError(`CAPY_ENCRYPTION_KEY is not set, so the ${whose} password cannot be decrypted`);
  }
  try {
    return keyring.open(stored);
  } catch (error) {
    // KeyringError names the key ids and the variables, never the value.
    if (error instanceof KeyringError) throw new ConfigurationError(`the ${whose} password cannot be decrypted: ${error.message}`);
    throw error;
  }
}

/** An operator login given as a URL (VERIFY_DATABASE_URL, PREVIEW_DATABASE_URL); its database is the maintenance one. */
export function serverAdmin(url: string): DumpTarget {
  const conn = parsePostgresUrl(url);
  return { host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: conn.database };
}
