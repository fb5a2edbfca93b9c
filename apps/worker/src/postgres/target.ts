// Where a project's database lives and how to log in: the project row, its cluster, and the
// password decrypted with CAPY_ENCRYPTION_KEY (only in memory, only for this attempt).
import { decryptSecret, type Db } from "@capy/db";
import { ConfigurationError } from "../failures/errors.js";
import type { DumpTarget } from "./pg-dump.js";

export async function loadDumpTarget(db: Db, projectId: string, encryptionKey: string | undefined): Promise<DumpTarget> {
  const project = await db.project.findUnique({ where: { id: projectId }, include: { cluster: true } });
  if (!project) throw new ConfigurationError(`project ${projectId} does not exist`);
  return {
    host: project.cluster.host,
    port: project.cluster.port,
    user: project.dbUser,
    database: project.databaseName,
    password: project.dbPasswordEncrypted === null ? null : decryptPassword(project.dbPasswordEncrypted, encryptionKey),
  };
}

/** The cluster's admin login, for throwaway verification databases (`database` is the maintenance one). */
export async function loadClusterAdmin(db: Db, clusterId: string, encryptionKey: string | undefined): Promise<DumpTarget> {
  const cluster = await db.cluster.findUnique({ where: { id: clusterId } });
  if (!cluster) throw new ConfigurationError(`cluster ${clusterId} does not exist`);
  return clusterAdmin(cluster, encryptionKey);
}

export function clusterAdmin(
  cluster: { host: string; port: number; adminUser: string; adminPasswordEncrypted: string | null },
  encryptionKey: string | undefined,
): DumpTarget {
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.adminUser,
    database: "postgres",
    password: cluster.adminPasswordEncrypted === null ? null : decryptPassword(cluster.adminPasswordEncrypted, encryptionKey, "cluster's admin"),
  };
}

function decryptPassword(ciphertext: string, encryptionKey: string | undefined, whose = "project's database"): string {
  if (!encryptionKey) {
    throw new ConfigurationError(`CAPY_ENCRYPTION_KEY is not set, so the ${whose} password cannot be decrypted`);
  }
  try {
    return decryptSecret(ciphertext, encryptionKey);
  } catch {
    // The cause says nothing useful (GCM only reports "unable to authenticate data").
    throw new ConfigurationError(`the ${whose} password cannot be decrypted with this CAPY_ENCRYPTION_KEY`);
  }
}
