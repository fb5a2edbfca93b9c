// Artifact downloads against the built API process: bytes, headers and tenancy; artifacts stored
// zstd-compressed come out as the archive by default and as stored with ?encoding=stored; bytes
// that do not match the recorded SHA-256 or stop decompressing abort the download, and bytes
// zstd refuses from the start are a 409.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { encryptionTargets, generateEncryptionKey, Keyring, newId } from "@capy/db";
import { backupArtifactKey, createStorage } from "@capy/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, insertBackupRow, request, startHarness } from "../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** `bytes` as one zstd stream, by the zstd binary the API itself uses. */
function zstdCompress(bytes: Buffer): Buffer {
  const result = spawnSync("zstd", ["-q", "-c", "-1"], { input: bytes, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`zstd failed: ${result.stderr.toString()}`);
  return result.stdout;
}

interface Encoding {
  storedEncoding?: string;
  /** The platform key an age-encrypted artifact was encrypted to. */
  encryptionKeyId?: string;
  compression?: string;
  archiveSizeBytes?: bigint | null;
  /** Recorded SHA-256; that of the stored bytes when unset. */
  sha256?: string;
}

/**
 * A backup row of the test tenant, with `bytes` stored as its artifact unless null; without an
 * encoding, a row as written before encodings were recorded (the columns' defaults).
 */
async function storedBackup(bytes: Buffer | null, state = "completed", encoding: Encoding = {}) {
  const id = newId("bkp");
  const backupKey = backupArtifactKey(h.tenant.project_id, id);
  if (bytes) await createStorage({ storageDir: h.stack.storageDir }).put(backupKey, Readable.from([bytes]));
  await insertBackupRow(h, {
    id,
    backupKey,
    sizeBytes: BigInt(bytes?.length ?? 0),
    sha256: encoding.sha256 ?? sha256(bytes ?? Buffer.alloc(0)),
    state,
    ...(encoding.storedEncoding
      ? { storedEncoding: encoding.storedEncoding, compression: encoding.compression ?? "zstd", archiveSizeBytes: encoding.archiveSizeBytes ?? null }
      : {}),
    ...(encoding.encryptionKeyId ? { encryption: "age", encryptionKeyId: encoding.encryptionKeyId } : {}),
  });
  return { id, path: `/v1/projects/${h.tenant.project_id}/backups/${id}/download` };
}

describe("GET /v1/projects/{id}/backups/{backupID}/download", () => {
  it("streams the artifact with its size and a filename", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const backup = await storedBackup(bytes);
    const response = await fetch(`${h.api.baseUrl}${backup.path}`, { headers: { "x-api-key": h.tenant.api_key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${h.source.name}-${backup.id}.dump"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("answers 404 to another organization's key, as for an unknown backup", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    const globex = await h.stack.createTenant("globex", "shop", h.source.url);
    expectError(await request(h.api, "GET", backup.path, { key: globex.api_key }), 404, "project not found");
    const unknown = `/v1/projects/${h.tenant.project_id}/backups/bkp_does_not_exist/download`;
    expectError(await request(h.api, "GET", unknown, { key: h.tenant.api_key }), 404, "backup not found");
  });

  it("answers 404 for a backup of another project of the same organization", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    const sibling = await h.stack.createTenant("acme", "sibling", h.source.url);
    const viaSibling = `/v1/projects/${sibling.project_id}/backups/${backup.id}/download`;
    expectError(await request(h.api, "GET", viaSibling, { key: sibling.api_key }), 404, "backup not found");
  });

  it("checks the key and its scope like every endpoint", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    expectError(await request(h.api, "GET", backup.path), 401);
    expectError(await request(h.api, "GET", backup.path, { key: "capy_live_nope" }), 401, "invalid API key");
  });

  it("answers 409 for a failed backup and 404 when the artifact is gone", async () => {
    const failed = await storedBackup(null, "failed");
    expectError(await request(h.api, "GET", failed.path, { key: h.tenant.api_key }), 409);
    const missing = await storedBackup(null);
    expectError(await request(h.api, "GET", missing.path, { key: h.tenant.api_key }), 404, "backup artifact not found");
  });

  it("gives a zstd artifact as the archive by default, decompressed on the fly, with its recorded size", async () => {
    const archive = randomBytes(2 * 1024 * 1024 + 5);
    const stored = zstdCompress(archive);
    const backup = await storedBackup(stored, "completed", { storedEncoding: "zstd", archiveSizeBytes: BigInt(archive.length) });
    const response = await fetch(`${h.api.baseUrl}${backup.path}`, { headers: { "x-api-key": h.tenant.api_key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(response.headers.get("content-length")).toBe(String(archive.length));
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${h.source.name}-${backup.id}.dump"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(archive)).toBe(true);
  });

  it("streams a zstd artifact of unknown archive size without a Content-Length", async () => {
    const archive = Buffer.from("PGDMP and more".repeat(1000));
    const backup = await storedBackup(zstdCompress(archive), "completed", { storedEncoding: "zstd" });
    const response = await fetch(`${h.api.baseUrl}${backup.path}`, { headers: { "x-api-key": h.tenant.api_key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBeNull();
    expect(Buffer.from(await response.arrayBuffer()).equals(archive)).toBe(true);
  });

  it("gives the stored bytes as they are with ?encoding=stored", async () => {
    const stored = zstdCompress(randomBytes(100_000));
    const backup = await storedBackup(stored, "completed", { storedEncoding: "zstd", archiveSizeBytes: 100_000n });
    const response = await fetch(`${h.api.baseUrl}${backup.path}?encoding=stored`, { headers: { "x-api-key": h.tenant.api_key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zstd");
    expect(response.headers.get("content-length")).toBe(String(stored.length));
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${h.source.name}-${backup.id}.dump.zst"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(stored)).toBe(true);
  });

  it("answers 400 to an unknown encoding", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    expectError(await request(h.api, "GET", `${backup.path}?encoding=gzip`, { key: h.tenant.api_key }), 400, "encoding must be one of archive, stored");
  });

  it("answers 409 before any byte when the stored bytes are not zstd at all", async () => {
    const broken = await storedBackup(randomBytes(5000), "completed", { storedEncoding: "zstd" });
    const refused = await request(h.api, "GET", broken.path, { key: h.tenant.api_key });
    expect(refused.status).toBe(409);
    expect((refused.body as { error: string }).error).toMatch(/^artifact does not decompress: decompression failed: zstd exited with code 1: /);
  });

  it("aborts the download when the stored bytes do not match the recorded SHA-256, or stop decompressing midway", async () => {
    const bytes = randomBytes(1024 * 1024);
    const changed = await storedBackup(bytes, "completed", { sha256: sha256(Buffer.from("something else")) });
    const compressed = zstdCompress(bytes);
    const truncated = await storedBackup(compressed.subarray(0, compressed.length / 2), "completed", {
      storedEncoding: "zstd",
      archiveSizeBytes: BigInt(bytes.length),
    });
    for (const backup of [changed, truncated]) {
      // The answer starts (200), and the connection is cut before the end: never a complete-looking file.
      const response = await fetch(`${h.api.baseUrl}${backup.path}`, { headers: { "x-api-key": h.tenant.api_key } });
      expect(response.status).toBe(200);
      await expect(response.arrayBuffer()).rejects.toThrow();
    }
  });

  it("decrypts an age artifact on the fly, gives its age bytes as stored, and answers 409 naming a key it cannot open", async () => {
    const { keyId, recipients } = await encryptionTargets(h.stack.db, h.stack.keyring, h.tenant.project_id);
    const archive = randomBytes(300_000);
    const encrypted = spawnSync(
      "age",
      recipients.flatMap((r) => ["-r", r]),
      { input: zstdCompress(archive) },
    );
    expect(encrypted.status).toBe(0);
    const backup = await storedBackup(encrypted.stdout, "completed", {
      storedEncoding: "zstd",
      encryptionKeyId: keyId,
      archiveSizeBytes: BigInt(archive.length),
    });
    const headers = { "x-api-key": h.tenant.api_key };
    const decrypted = await fetch(`${h.api.baseUrl}${backup.path}`, { headers });
    expect(decrypted.status).toBe(200);
    expect(decrypted.headers.get("content-length")).toBe(String(archive.length));
    expect(Buffer.from(await decrypted.arrayBuffer()).equals(archive)).toBe(true);
    const raw = await fetch(`${h.api.baseUrl}${backup.path}?encoding=stored`, { headers });
    expect(raw.headers.get("content-type")).toBe("application/octet-stream");
    expect(raw.headers.get("content-disposition")).toBe(`attachment; filename="${h.source.name}-${backup.id}.dump.zst.age"`);
    expect(Buffer.from(await raw.arrayBuffer()).equals(encrypted.stdout)).toBe(true);

    // The platform key sealed under a key this keyring does not hold: 409 before any byte, and
    // the stored bytes are still there for the customer's own identity.
    const key = await h.stack.db.projectEncryptionKey.findUniqueOrThrow({ where: { id: keyId } });
    const foreign = new Keyring(generateEncryptionKey()).seal("AGE-SECRET-KEY-1NOTTHEREALONE");
    await h.stack.db.projectEncryptionKey.update({ where: { id: keyId }, data: { privateKeyEncrypted: foreign } });
    try {
      const refused = await request(h.api, "GET", backup.path, { key: h.tenant.api_key });
      expect(refused.status).toBe(409);
      expect((refused.body as { error: string }).error).toMatch(new RegExp(`^artifact is encrypted to key ${keyId} which cannot be opened: `));
      expect((await fetch(`${h.api.baseUrl}${backup.path}?encoding=stored`, { headers })).status).toBe(200);
    } finally {
      await h.stack.db.projectEncryptionKey.update({ where: { id: keyId }, data: { privateKeyEncrypted: key.privateKeyEncrypted } });
    }
  });
});
