// Platform keys and customer recipients for encrypted artifacts, against a real metadata database
// and the real `age` binary (the one that encrypts artifacts).

import { spawn } from "node:child_process";
import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { Decrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "./client.js";
import {
  EncryptionKeyNotFoundError,
  encryptionTargets,
  InvalidRecipientError,
  openEncryptionIdentity,
  parseAgeRecipient,
  recipientFingerprint,
  rotateProjectEncryptionKey,
} from "./encryption-keys.js";
import { newId } from "./ids.js";
import { generateEncryptionKey } from "./secrets/crypto.js";
import { Keyring } from "./secrets/keyring.js";
import { createProject, registerCluster } from "./tenants.js";

const keyring = new Keyring(generateEncryptionKey());
const databases: TestDatabase[] = [];
const clients: Db[] = [];
let db: Db;

beforeAll(async () => {
  const metadata = await createMetadataDatabase();
  databases.push(metadata);
  db = createDb(metadata.url, { maxConnections: 4 });
  clients.push(db);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()));
  await Promise.all(databases.map((d) => d.drop()));
});

let clusterPort = 7000;

/** A bare project row (no platform key yet), as rows made before this change are. */
async function bareProject(): Promise<string> {
  const org = await db.organization.create({ data: { id: newId("org"), name: newId("org") } });
  const cluster = await db.cluster.create({
    data: { id: newId("cls"), name: newId("cls"), host: "127.0.0.1", port: clusterPort++, adminUser: "postgres" },
  });
  const project = await db.project.create({
    data: { id: newId("prj"), organizationId: org.id, clusterId: cluster.id, name: "p", databaseName: "d", dbUser: "u" },
  });
  return project.id;
}

async function customerRecipient(projectId: string, label: string): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  await db.encryptionRecipient.create({
    data: { id: newId("rcp"), projectId, label, publicKey: recipient, fingerprint: recipientFingerprint(recipient) },
  });
  return { identity, recipient };
}

/** `age -r …` over `plaintext`: the binary the artifact pipeline uses (recipients are public, argv is fine). */
function ageEncrypt(recipients: string[], plaintext: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "age",
      recipients.flatMap((r) => ["-r", r]),
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`age exited ${code}: ${stderr}`))));
    child.stdin.end(plaintext);
  });
}

async function ageDecrypt(identity: string, ciphertext: Buffer): Promise<string> {
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  return decrypter.decrypt(ciphertext, "text");
}

describe("encryptionTargets", () => {
  it("makes a project's first platform key, then returns it with every customer recipient after it", async () => {
    const projectId = await bareProject();
    const first = await encryptionTargets(db, keyring, projectId);
    expect(first.keyId).toMatch(/^enk_[0-9a-z]{26}$/);
    expect(first.recipients).toHaveLength(1);
    expect(await encryptionTargets(db, keyring, projectId)).toEqual(first);

    const alice = await customerRecipient(projectId, "alice");
    const bob = await customerRecipient(projectId, "bob");
    expect(await encryptionTargets(db, keyring, projectId)).toEqual({ keyId: first.keyId, recipients: [first.recipients[0], alice.recipient, bob.recipient] });
  });

  it("ends with one current key when many callers on separate connections make the first at once", async () => {
    const projectId = await bareProject();
    const other = createDb(databases[0]!.url, { maxConnections: 4 });
    clients.push(other);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => encryptionTargets(i % 2 ? other : db, keyring, projectId)));
    expect(new Set(results.map((r) => r.keyId)).size).toBe(1);
    expect(await db.projectEncryptionKey.count({ where: { projectId } })).toBe(1);
  });

  it("gives recipients the age binary encrypts to, each of whose identities decrypts the result", async () => {
    const projectId = await bareProject();
    const customer = await customerRecipient(projectId, "offline key");
    const targets = await encryptionTargets(db, keyring, projectId);
    const ciphertext = await ageEncrypt(targets.recipients, "pg_dump archive bytes");
    expect(ciphertext.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    const platformIdentity = await openEncryptionIdentity(db, keyring, targets.keyId);
    expect(await ageDecrypt(platformIdentity, ciphertext)).toBe("pg_dump archive bytes");
    expect(await ageDecrypt(customer.identity, ciphertext)).toBe("pg_dump archive bytes");
    await expect(ageDecrypt(await generateX25519Identity(), ciphertext)).rejects.toThrow(/no identity matched/);
  });
});

describe("openEncryptionIdentity", () => {
  it("opens the sealed identity of the key's public part; only the sealed form is stored", async () => {
    const projectId = await bareProject();
    const { keyId, recipients } = await encryptionTargets(db, keyring, projectId);
    const identity = await openEncryptionIdentity(db, keyring, keyId);
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(await identityToRecipient(identity)).toBe(recipients[0]);
    const row = await db.projectEncryptionKey.findUniqueOrThrow({ where: { id: keyId } });
    expect(row.privateKeyEncrypted).toMatch(/^v2:/);
    expect(row.privateKeyEncrypted).not.toContain(identity);
    expect(row.privateKeyEncrypted).not.toContain(identity.slice("AGE-SECRET-KEY-1".length));
  });

  it("throws EncryptionKeyNotFoundError for an unknown key id", async () => {
    await expect(openEncryptionIdentity(db, keyring, "enk_unknown")).rejects.toBeInstanceOf(EncryptionKeyNotFoundError);
  });

  it("fails naming the variables (and no secret) under a keyring that did not seal it", async () => {
    const projectId = await bareProject();
    const { keyId } = await encryptionTargets(db, keyring, projectId);
    await expect(openEncryptionIdentity(db, new Keyring(generateEncryptionKey()), keyId)).rejects.toThrow(/CAPY_ENCRYPTION_KEY/);
  });
});

describe("rotateProjectEncryptionKey", () => {
  it("makes a new current key; the retired one still opens and no longer receives new artifacts", async () => {
    const projectId = await bareProject();
    const before = await encryptionTargets(db, keyring, projectId);
    const rotated = await rotateProjectEncryptionKey(db, keyring, projectId);
    expect(rotated.id).not.toBe(before.keyId);
    expect(await encryptionTargets(db, keyring, projectId)).toEqual({ keyId: rotated.id, recipients: [rotated.publicKey] });

    const keys = await db.projectEncryptionKey.findMany({ where: { projectId } });
    const current = Object.fromEntries(keys.map((k) => [k.id, k.retiredAt === null]));
    expect(current).toEqual({ [before.keyId]: false, [rotated.id]: true });
    expect(await identityToRecipient(await openEncryptionIdentity(db, keyring, before.keyId))).toBe(before.recipients[0]);
  });

  it("makes the first key of a project that has none", async () => {
    const projectId = await bareProject();
    const rotated = await rotateProjectEncryptionKey(db, keyring, projectId);
    expect((await encryptionTargets(db, keyring, projectId)).keyId).toBe(rotated.id);
  });

  it("leaves exactly one current key after concurrent rotations and first-key creations", async () => {
    const projectId = await bareProject();
    const other = createDb(databases[0]!.url, { maxConnections: 4 });
    clients.push(other);
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => rotateProjectEncryptionKey(i % 2 ? other : db, keyring, projectId)),
      ...Array.from({ length: 4 }, (_, i) => encryptionTargets(i % 2 ? other : db, keyring, projectId)),
    ]);
    expect(await db.projectEncryptionKey.count({ where: { projectId, retiredAt: null } })).toBe(1);
    expect(await db.projectEncryptionKey.count({ where: { projectId } })).toBeGreaterThanOrEqual(4);
  });
});

describe("the schema", () => {
  it("refuses a second current key for a project (partial unique index), whatever the caller", async () => {
    const projectId = await bareProject();
    await encryptionTargets(db, keyring, projectId);
    await expect(
      db.projectEncryptionKey.create({ data: { id: newId("enk"), projectId, publicKey: "age1x", privateKeyEncrypted: keyring.seal("x") } }),
    ).rejects.toThrow(/Unique constraint/);
  });

  it("refuses deleting a key a backup was encrypted with", async () => {
    const projectId = await bareProject();
    const { keyId } = await encryptionTargets(db, keyring, projectId);
    const project = await db.project.findUniqueOrThrow({ where: { id: projectId } });
    await db.backup.create({
      data: {
        id: newId("bkp"),
        organizationId: project.organizationId,
        projectId,
        jobId: newId("job"),
        databaseName: "d",
        backupKey: "k",
        sizeBytes: 1n,
        sha256: "0".repeat(64),
        state: "completed",
        encryption: "age",
        encryptionKeyId: keyId,
      },
    });
    await expect(db.projectEncryptionKey.delete({ where: { id: keyId } })).rejects.toThrow(/Foreign key constraint/);
  });
});

describe("createProject", () => {
  it("makes the project's platform key at once, and keeps it when the project is updated", async () => {
    const url = (database: string) => `postgresql://postgres:postgres@127.0.0.1:5432/${database}`;
    await registerCluster(db, { adminUrl: url("postgres"), keyring });
    const created = await createProject(db, { organizationName: "acme", projectName: "shop", databaseUrl: url("shop"), keyring });
    const keys = await db.projectEncryptionKey.findMany({ where: { projectId: created.project_id } });
    expect(keys).toHaveLength(1);
    await createProject(db, { organizationName: "acme", projectName: "shop", databaseUrl: url("shop2"), keyring });
    expect(await db.projectEncryptionKey.findMany({ where: { projectId: created.project_id } })).toEqual(keys);
  });

  it("replaces keys sealed under a CAPY key it lacks; keeps a lost key that a backup was encrypted to", async () => {
    const url = (database: string) => `postgresql://postgres:postgres@127.0.0.1:5432/${database}`;
    const lost = new Keyring(generateEncryptionKey());
    await registerCluster(db, { adminUrl: url("postgres"), keyring: lost });
    const created = await createProject(db, { organizationName: "lost", projectName: "shop", databaseUrl: url("shop"), keyring: lost });
    const projectId = created.project_id;
    const encryptedTo = await rotateProjectEncryptionKey(db, lost, projectId);
    const project = await db.project.findUniqueOrThrow({ where: { id: projectId } });
    await db.backup.create({
      data: {
        ...{ id: newId("bkp"), organizationId: project.organizationId, projectId, jobId: newId("job"), databaseName: "d", backupKey: "k2" },
        ...{ sizeBytes: 1n, sha256: "0".repeat(64), state: "completed", encryption: "age", encryptionKeyId: encryptedTo.id },
      },
    });
    await rotateProjectEncryptionKey(db, lost, projectId);

    // A clone with its own key re-creates the project: every key it cannot open is gone or retired.
    await createProject(db, { organizationName: "lost", projectName: "shop", databaseUrl: url("shop"), keyring });
    const keys = await db.projectEncryptionKey.findMany({ where: { projectId }, orderBy: { createdAt: "asc" } });
    expect(keys.map((key) => key.id)).toEqual([encryptedTo.id, expect.stringMatching(/^enk_/)]);
    expect(keys[0]!.retiredAt).not.toBeNull();
    expect(keys[1]!.retiredAt).toBeNull();
    const { keyId } = await encryptionTargets(db, keyring, projectId);
    expect(keyId).toBe(keys[1]!.id);
    await expect(openEncryptionIdentity(db, keyring, keyId)).resolves.toMatch(/^AGE-SECRET-KEY-1/);
  });
});

describe("parseAgeRecipient", () => {
  it("accepts an X25519 recipient (trimmed) and refuses anything else, saying what is expected", async () => {
    const recipient = await identityToRecipient(await generateX25519Identity());
    expect(parseAgeRecipient(` ${recipient}\n`)).toBe(recipient);
    const flipped = `${recipient.slice(0, -1)}${recipient.endsWith("q") ? "p" : "q"}`;
    for (const bad of [recipient.toUpperCase(), flipped, recipient.slice(0, -1), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", "age1pq1abc", ""]) {
      expect(() => parseAgeRecipient(bad), bad).toThrow(InvalidRecipientError);
    }
    expect(() => parseAgeRecipient("ssh-rsa AAAA")).toThrow(/age X25519 public key: age1 followed by 58 lower-case characters/);
    expect(() => parseAgeRecipient(flipped)).toThrow(/checksum/);
  });
});
