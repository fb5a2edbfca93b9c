// Onboarding: organizations, clusters, projects and API keys, as the operator CLI and the dev
// seed create them. The API serves these tenants; it does not create them (yet).
import { PROJECT_SCOPES, SCOPES, type Scope } from "@capy/contracts";
import { mintApiKey } from "./api-keys.js";
import type { Db } from "./client.js";
import { ensureCurrentEncryptionKey, replaceUnopenableEncryptionKeys } from "./encryption-keys.js";
import { newId } from "./ids.js";
import { parsePostgresUrl } from "./postgres-url.js";
import type { Keyring } from "./secrets/keyring.js";

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
}

export interface RegisterClusterInput {
  /** postgres://admin:password@host:port/postgres: a login that may create databases and roles. */
  adminUrl: string;
  /** Defaults to `host:port`. */
  name?: string;
  /** Seals the password (its current key). */
  keyring: Keyring;
}

/**
 * Registers (or, for a known host and port, updates) a cluster's operator login: the only
 * credentials that create and drop databases and roles on it (verification's throwaway databases,
 * previews, restores). Idempotent by host and port.
 */
/**
 * (Re-registering also repairs a cluster whose stored login no key of the keyring opens any more:
 * the login is always re-sealed under the current key.)
 */
export async function registerCluster(db: Db, input: RegisterClusterInput): Promise<{ cluster_id: string }> {
  const conn = parsePostgresUrl(input.adminUrl);
  const admin = {
    adminUser: conn.user,
    adminPasswordEncrypted: conn.password === null ? null : input.keyring.seal(conn.password),
    adminRegisteredAt: new Date(),
  };
  const name = input.name ?? `${conn.host}:${conn.port}`;
  const cluster = await db.cluster.upsert({
    where: { host_port: { host: conn.host, port: conn.port } },
    create: { id: newId("cls"), name, host: conn.host, port: conn.port, ...admin },
    update: { ...admin, ...(input.name === undefined ? {} : { name }) },
  });
  return { cluster_id: cluster.id };
}

/**
 * Creates the organization if new and the project on the cluster registered for the database
 * URL's host and port (TenantError when none is: `admin register-cluster` first), or updates the
 * project's connection if one of that name exists; makes its platform encryption key if it has
 * none; then mints a project-scoped key with every project scope. The cluster's admin login is
 * never touched: the project's credentials only ever read the project's database.
 */
export async function createProject(db: Db, input: CreateProjectInput): Promise<CreatedProject> {
  const conn = parsePostgresUrl(input.databaseUrl);
  const cluster = await db.cluster.findUnique({ where: { host_port: { host: conn.host, port: conn.port } } });
  if (!cluster?.adminRegisteredAt) {
    throw new TenantError(
      `no cluster is registered for ${conn.host}:${conn.port}; run \`admin register-cluster\` with CAPY_ADMIN_URL=postgres://…@${conn.host}:${conn.port}/postgres first`,
    );
  }
  const passwordEncrypted = conn.password === null ? null : input.keyring.seal(conn.password);
  const organization = await db.organization.upsert({
    where: { name: input.organizationName },
    create: { id: newId("org"), name: input.organizationName },
    update: {},
  });
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
  // Its platform key for encrypted artifacts now, so the first backup need not make it; keys
  // sealed under a CAPY key this keyring lacks are replaced, like the credentials above.
  await replaceUnopenableEncryptionKeys(db, input.keyring, project.id);
  await ensureCurrentEncryptionKey(db, input.keyring, project.id);
  const key = await createApiKey(db, {
    organizationId: organization.id,
    projectId: project.id,
    name: `${input.projectName} (created by admin)`,
    scopes: [...PROJECT_SCOPES],
  });
  return { organization_id: organization.id, project_id: project.id, api_key: key.plaintext, api_key_id: key.id };
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
