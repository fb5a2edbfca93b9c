// Where a project's database lives and how to log in: the project row, its cluster, and the
// password opened with the keyring (only in memory, only for this attempt).
import { KeyringError, type Db, type Keyring } from "@capy/db";
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
    password: project.dbPasswordEncrypted === null ? null : openPassword(project.dbPasswordEncrypted, keyring),
  };
}

/** The cluster's admin login, for throwaway verification databases (`database` is the maintenance one). */
export async function loadClusterAdmin(db: Db, clusterId: string, keyring: Keyring | undefined): Promise<DumpTarget> {
  const cluster = await db.cluster.findUnique({ where: { id: clusterId } });
  if (!cluster) throw new ConfigurationError(`cluster ${clusterId} does not exist`);
  return clusterAdmin(cluster, keyring);
}

export function clusterAdmin(
  cluster: { host: string; port: number; adminUser: string; adminPasswordEncrypted: string | null },
  keyring: Keyring | undefined,
): DumpTarget {
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.adminUser,
    database: "postgres",
    password: cluster.adminPasswordEncrypted === null ? null : openPassword(cluster.adminPasswordEncrypted, keyring, "cluster's admin"),
  };
}

function openPassword(stored: string, keyring: Keyring | undefined, whose = "project's database"): string {
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
