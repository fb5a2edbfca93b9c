// Onboarding: organizations, clusters, projects and API keys, as the operator CLI and the dev
// seed create them. The API serves these tenants; it does not create them (yet).
import { PROJECT_SCOPES, SCOPES, type Scope } from "@capy/contracts";
import { mintApiKey } from "./api-keys.js";
import type { Db } from "./client.js";
import { newId } from "./ids.js";
import { parsePostgresUrl, type PgConnection } from "./postgres-url.js";
import { opensWith, type Keyring } from "./secrets/keyring.js";

export interface CreateProjectInput {
  organizationName: string;
  projectName: string;
  /** postgres://user:password@host:port/database of the project's database. */
  databaseUrl: string;
  /** Seals the passwords (its current key). */
  keyring: Keyring;
}

export interface CreatedProject {
  organization_id: string;
  project_id: string;
  api_key: string;
  api_key_id: string;
  /** The cluster existed with admin credentials no key of the keyring opens; they were replaced. */
  cluster_credentials_replaced: boolean;
}

/**
 * Creates the organization if new, the cluster (by host and port) if new, and the project, or
 * updates the project's connection if one of that name exists; then mints a project-scoped key
 * with every project scope. An existing cluster whose stored admin password no key of the
 * keyring opens (sealed under a lost key) takes this URL's login instead of staying broken.
 */
export async function createProject(db: Db, input: CreateProjectInput): Promise<CreatedProject> {
  const conn = parsePostgresUrl(input.databaseUrl);
  const passwordEncrypted = conn.password === null ? null : input.keyring.seal(conn.password);

  const organization = await db.organization.upsert({
    where: { name: input.organizationName },
    create: { id: newId("org"), name: input.organizationName },
    update: {},
  });
  const cluster = await db.cluster.upsert({
    where: { host_port: { host: conn.host, port: conn.port } },
    create: {
      id: newId("cls"),
      name: `${conn.host}:${conn.port}`,
      host: conn.host,
      port: conn.port,
      adminUser: conn.user,
      adminPasswordEncrypted: passwordEncrypted,
    },
    update: {},
  });
  const clusterReplaced = await replaceUndecryptableAdmin(db, cluster, conn, passwordEncrypted, input.keyring);
  const connection = {
    clusterId: cluster.id,
    databaseName: conn.database,
    dbUser: conn.user,
    dbPasswordEncrypted: passwordEncrypted,
  };
  const project = await db.project.upsert({
    where: { organizationId_name: { organizationId: organization.id, name: input.projectName } },
    create: { id: newId("prj"), organizationId: organization.id, name: input.projectName, ...connection },
    update: connection,
  });
  const key = await createApiKey(db, {
    organizationId: organization.id,
    projectId: project.id,
    name: `${input.projectName} (created by admin)`,
    scopes: [...PROJECT_SCOPES],
  });
  return { organization_id: organization.id, project_id: project.id, api_key: key.plaintext, api_key_id: key.id, cluster_credentials_replaced: clusterReplaced };
}

/** Compare-and-set on the stored value, so a concurrent rotation or repair is never overwritten. */
async function replaceUndecryptableAdmin(
  db: Db,
  cluster: { id: string; adminPasswordEncrypted: string | null },
  conn: PgConnection,
  passwordEncrypted: string | null,
  keyring: Keyring,
): Promise<boolean> {
  const stored = cluster.adminPasswordEncrypted;
  if (stored === null || opensWith(keyring, stored)) return false;
  const { count } = await db.cluster.updateMany({
    where: { id: cluster.id, adminPasswordEncrypted: stored },
    data: { adminUser: conn.user, adminPasswordEncrypted: passwordEncrypted },
  });
  return count === 1;
}

export interface CreateApiKeyInput {
  organizationId: string;
  projectId?: string | null;
  name: string;
  scopes?: Scope[];
  expiresAt?: Date | null;
}

export class TenantError extends Error {}

export async function createApiKey(db: Db, input: CreateApiKeyInput): Promise<{ id: string; plaintext: string }> {
  const organization = await db.organization.findUnique({ where: { id: input.organizationId } });
  if (!organization) throw new TenantError(`organization ${input.organizationId} does not exist`);
  if (input.projectId) {
    const project = await db.project.findFirst({ where: { id: input.projectId, organizationId: organization.id } });
    if (!project) throw new TenantError(`project ${input.projectId} does not exist in ${organization.id}`);
  }
  const scopes = input.scopes ?? (input.projectId ? [...PROJECT_SCOPES] : [...SCOPES]);
  if (input.projectId) {
    const forbidden = scopes.filter((s) => !PROJECT_SCOPES.includes(s));
    if (forbidden.length > 0) throw new TenantError(`a project key cannot hold ${forbidden.join(", ")}`);
  }
  const minted = mintApiKey();
  const id = newId("key");
  await db.apiKey.create({
    data: {
      id,
      organizationId: organization.id,
      projectId: input.projectId ?? null,
      name: input.name,
      keyHash: minted.hash,
      keyPrefix: minted.displayPrefix,
      scopes,
      expiresAt: input.expiresAt ?? null,
    },
  });
  return { id, plaintext: minted.plaintext };
}

export async function revokeApiKey(db: Db, keyId: string): Promise<boolean> {
  const { count } = await db.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } });
  return count > 0;
}
