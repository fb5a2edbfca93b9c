// Rotation, the start-up check and create-project's repair against a real metadata database.

import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createDb, type Db } from "../client.js";
import { newId } from "../ids.js";
import { createProject, registerCluster } from "../tenants.js";
import { assertStoredSecretsOpen, checkStoredSecrets, StoredSecretsError } from "./check.js";
import { SECRET_COLUMNS } from "./columns.js";
import { encryptSecret, generateEncryptionKey } from "./crypto.js";
import { Keyring, keyId, sealedKeyId } from "./keyring.js";
import { rotateSecrets } from "./rotate.js";

const [keyA, keyB, keyC] = [generateEncryptionKey(), generateEncryptionKey(), generateEncryptionKey()] as [string, string, string];
const ringA = new Keyring(keyA);
const ringB = new Keyring(keyB);
const ringBA = new Keyring(keyB, [keyA]);
/** Neither registerCluster nor createProject connects to it. */
const sourceUrl = (database: string) => `postgresql://postgres:postgres@127.0.0.1:5432/${database}`;

/** A project on the cluster registered with the same keyring, as an operator onboards one. */
async function createTenant(db: Db, projectName: string, keyring: Keyring) {
  await registerCluster(db, { adminUrl: sourceUrl("postgres"), keyring });
  return createProject(db, { organizationName: "acme", projectName, databaseUrl: sourceUrl(projectName), keyring });
}

const databases: TestDatabase[] = [];
const clients: Db[] = [];
let db: Db;

async function freshDb(): Promise<Db> {
  const metadata = await createMetadataDatabase();
  databases.push(metadata);
  const client = createDb(metadata.url, { maxConnections: 4 });
  clients.push(client);
  return client;
}

beforeEach(async () => {
  db = await freshDb();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()));
  await Promise.all(databases.map((d) => d.drop()));
});

/** Every stored value of every registered column. */
async function storedValues(client: Db): Promise<string[]> {
  const clusters = await client.cluster.findMany();
  const projects = await client.project.findMany();
  return [...clusters.map((c) => c.adminPasswordEncrypted), ...projects.map((p) => p.dbPasswordEncrypted)].filter((v): v is string => v !== null);
}

let clusterPort = 6000;

/** `count` projects on a cluster of their own, their passwords sealed by `ring`, without minting keys. */
async function insertProjects(client: Db, ring: Keyring, count: number): Promise<void> {
  const org = await client.organization.create({ data: { id: newId("org"), name: `org-${newId("org")}` } });
  const cluster = await client.cluster.create({
    data: {
      id: newId("cls"),
      name: newId("cls"),
      host: "127.0.0.1",
      port: clusterPort++,
      adminUser: "postgres",
      adminPasswordEncrypted: ring.seal("admin-pw"),
    },
  });
  await client.project.createMany({
    data: Array.from({ length: count }, (_, i) => ({
      id: newId("prj"),
      organizationId: org.id,
      clusterId: cluster.id,
      name: `p${i}`,
      databaseName: `db${i}`,
      dbUser: "u",
      dbPasswordEncrypted: ring.seal(`pw-${i}`),
    })),
  });
}

describe("rotate-encryption-key", () => {
  it("re-seals every secret under the current key; an old ciphertext opens while its key is kept, and not after it is removed", async () => {
    const tenant = await createTenant(db, "shop", ringA);
    // A v1 value (no key id), as written before the keyring, on the cluster.
    const project = await db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
    await db.cluster.update({ where: { id: project.clusterId }, data: { adminPasswordEncrypted: encryptSecret("postgres", keyA) } });
    const oldValues = await storedValues(db);
    expect(oldValues).toHaveLength(2);

    // B is current, A kept in CAPY_ENCRYPTION_KEYS_OLD: the old values still open.
    expect(oldValues.map((v) => ringBA.open(v))).toEqual(["postgres", "postgres"]);
    // The third stored secret is the project's platform encryption key (sealed by ringA too).
    expect(await checkStoredSecrets(db, ringBA)).toEqual({ stored: 3, undecryptable: 0, unknownKeyIds: [] });

    const report = await rotateSecrets(db, ringBA);
    expect(report).toEqual({
      key_id: keyId(keyB),
      resealed: 3,
      already_current: 0,
      failed: 0,
      columns: {
        "clusters.admin_password_encrypted": { resealed: 1, already_current: 0, failed: 0, failed_ids: [] },
        "projects.db_password_encrypted": { resealed: 1, already_current: 0, failed: 0, failed_ids: [] },
        "preview_databases.password_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "webhooks.secret_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "webhooks.previous_secret_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "project_encryption_keys.private_key_encrypted": { resealed: 1, already_current: 0, failed: 0, failed_ids: [] },
      },
    });
    const newValues = await storedValues(db);
    expect(newValues.map(sealedKeyId)).toEqual([keyId(keyB), keyId(keyB)]);
    // A removed: the stored values open with B alone; the old ciphertexts no longer open.
    expect(newValues.map((v) => ringB.open(v))).toEqual(["postgres", "postgres"]);
    for (const old of oldValues) expect(() => ringB.open(old)).toThrow(/CAPY_ENCRYPTION_KEY/);
    expect(await checkStoredSecrets(db, ringA)).toMatchObject({ stored: 3, undecryptable: 3, unknownKeyIds: [keyId(keyB)] });

    // Idempotent.
    expect(await rotateSecrets(db, ringB)).toMatchObject({ resealed: 0, already_current: 3, failed: 0 });
    expect(await storedValues(db)).toEqual(newValues);
  });

  it("counts (and lists the ids of) values no key opens, re-sealing the rest", async () => {
    await insertProjects(db, ringA, 3);
    const stranger = await db.project.findFirstOrThrow({ orderBy: { id: "asc" } });
    await db.project.update({ where: { id: stranger.id }, data: { dbPasswordEncrypted: new Keyring(keyC).seal("lost") } });
    const report = await rotateSecrets(db, ringBA);
    expect(report.columns["projects.db_password_encrypted"]).toEqual({ resealed: 2, already_current: 0, failed: 1, failed_ids: [stranger.id] });
    expect(report).toMatchObject({ resealed: 3, failed: 1 });
  });

  it("re-seals each row exactly once when two rotations run at once (compare-and-set on the old value)", async () => {
    await insertProjects(db, ringA, 450);
    const other = createDb(databases.at(-1)!.url, { maxConnections: 2 });
    clients.push(other);
    const [first, second] = await Promise.all([rotateSecrets(db, ringBA), rotateSecrets(other, ringBA)]);
    // 451 secrets: 450 project passwords and the cluster's; each written by one of the two.
    expect(first.resealed + second.resealed).toBe(451);
    expect(first.already_current + second.already_current).toBe(451);
    expect(first.failed + second.failed).toBe(0);
    expect(new Set((await storedValues(db)).map(sealedKeyId))).toEqual(new Set([keyId(keyB)]));
  });

  it("covers every registered column", () => {
    expect(SECRET_COLUMNS.map((c) => `${c.table}.${c.column}`)).toEqual([
      "clusters.admin_password_encrypted",
      "projects.db_password_encrypted",
      "preview_databases.password_encrypted",
      "webhooks.secret_encrypted",
      "webhooks.previous_secret_encrypted",
      "project_encryption_keys.private_key_encrypted",
    ]);
  });
});

describe("the start-up check", () => {
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  beforeEach(() => {
    warnings.length = 0;
  });

  it("passes an empty database, with or without a key", async () => {
    await assertStoredSecretsOpen(db, ringA, warn);
    await assertStoredSecretsOpen(db, undefined, warn);
    expect(warnings).toEqual([]);
  });

  it("refuses, in one line naming the variables, when no stored secret opens", async () => {
    await insertProjects(db, ringA, 2);
    const refusal = assertStoredSecretsOpen(db, new Keyring(keyC, [keyB]), warn);
    await expect(refusal).rejects.toThrow(StoredSecretsError);
    await expect(refusal).rejects.toThrow(
      `refusing to start: none of the 3 stored secrets in the metadata database (sealed under key ${keyId(keyA)}) decrypts with CAPY_ENCRYPTION_KEY (key ${keyId(keyC)}) or CAPY_ENCRYPTION_KEYS_OLD (${keyId(keyB)}); set CAPY_ENCRYPTION_KEY to the key that sealed them, or add that key to CAPY_ENCRYPTION_KEYS_OLD`,
    );
    await expect(assertStoredSecretsOpen(db, undefined, warn)).rejects.toThrow(
      /^refusing to start: CAPY_ENCRYPTION_KEY is not set, but the metadata database holds 3 stored secrets/,
    );
    await assertStoredSecretsOpen(db, ringBA, warn);
    expect(warnings).toEqual([]);
  });

  it("starts with a warning when only some do not open", async () => {
    await insertProjects(db, ringA, 2);
    await insertProjects(db, ringB, 1);
    await assertStoredSecretsOpen(db, ringB, warn);
    expect(warnings).toEqual([
      `3 of 5 stored secrets (sealed under key ${keyId(keyA)}) do not decrypt with CAPY_ENCRYPTION_KEY (key ${keyId(keyB)}) or CAPY_ENCRYPTION_KEYS_OLD (empty); jobs that need them will fail`,
    ]);
  });

  it("warns and lets the process start when the metadata database cannot be read", async () => {
    const unreachable = createDb("postgresql://postgres:postgres@127.0.0.1:1/capy", { maxConnections: 1 });
    clients.push(unreachable);
    await assertStoredSecretsOpen(unreachable, ringA, warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^could not check the stored secrets against the keyring: /);
  });
});

describe("admin register-cluster and create-project with credentials sealed under a lost key", () => {
  it("register-cluster re-seals the cluster's login under the current key; create-project re-seals the project's and never touches the cluster's", async () => {
    await createTenant(db, "one", ringA);
    const sealedUnderA = (await db.cluster.findFirstOrThrow()).adminPasswordEncrypted!;
    expect(sealedKeyId(sealedUnderA)).toBe(keyId(keyA));

    // A is lost: create-project under B re-seals the project's password, leaves the cluster's alone.
    const two = await createProject(db, { organizationName: "acme", projectName: "two", databaseUrl: sourceUrl("two"), keyring: ringB });
    const project = await db.project.findUniqueOrThrow({ where: { id: two.project_id } });
    expect(ringB.open(project.dbPasswordEncrypted!)).toBe("postgres");
    expect((await db.cluster.findFirstOrThrow()).adminPasswordEncrypted).toBe(sealedUnderA);

    // Registering the cluster again under B repairs its login, idempotently.
    const first = await registerCluster(db, { adminUrl: sourceUrl("postgres"), keyring: ringB });
    const again = await registerCluster(db, { adminUrl: sourceUrl("postgres"), keyring: ringB });
    expect(again.cluster_id).toBe(first.cluster_id);
    const cluster = await db.cluster.findFirstOrThrow();
    expect(ringB.open(cluster.adminPasswordEncrypted!)).toBe("postgres");
    expect(cluster.adminUser).toBe("postgres");
  });
});
