// The product's core promise, end to end over REST: a user with an API key backs up a real
// database through a real API and a real worker process, downloads the artifact and restores
// it with pg_restore into identical data. The artifact is stored zstd-compressed and encrypted
// with age to the project's platform key and its customer recipients: the stored object is no
// readable archive, the download gives the pg_restore archive unless ?encoding=stored asks for
// the stored bytes, which the customer decrypts with their own identity and the standard tools.
// After a key rotation old and new backups verify and restore; old unencrypted gzip and zstd
// artifacts still verify and download; a corrupted artifact or a wrong key fails precisely.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Backup, Job } from "@capy/contracts";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  pgbenchFingerprint,
  run,
  type TestDatabase,
  type TestStack,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

let stack: TestStack;
let source: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];

const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);

let dir: string;
/** The customer's own age identity file (made by age-keygen), and its public key. */
let customerKey: string;
let customerRecipient: string;

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(2)]);
  await Promise.all([stack.startApi(), stack.startWorker()]);
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-e2e-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  customerKey = path.join(dir, "customer-key.txt");
  const generated = await run("age-keygen", ["-o", customerKey]);
  customerRecipient = /Public key: (age1\S+)/.exec(generated.stderr)![1]!;
});

/** GET …/download(`query`) into `file`; its response headers. */
async function download(key: string, projectId: string, backupId: string, file: string, query = "") {
  const response = await fetch(`${stack.api!.baseUrl}/v1/projects/${projectId}/backups/${backupId}/download${query}`, { headers: { "x-api-key": key } });
  expect(response.status).toBe(200);
  await pipeline(Readable.fromWeb(response.body! as never), createWriteStream(file));
  return { path: file, headers: response.headers };
}

/** pg_restore of `archive` into a new database holds exactly what the source holds. */
async function expectRestoresIdentically(archive: string) {
  const target = await createEmptyDatabase("capy_restore");
  cleanups.push(() => target.drop());
  await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", target.url, archive]);
  expect(await pgbenchFingerprint(target.url)).toEqual(await pgbenchFingerprint(source.url));
}

/** A restore job of the backup into a new preview holds exactly what the source holds. */
async function expectRestoreJobRestoresIdentically(key: string, projectId: string, backupId: string) {
  const created = await api(key, "POST", `/v1/projects/${projectId}/restores`, { backup_id: backupId, preview_name: `of-${backupId.slice(-6)}` });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const job = await pollJob(key, Job.parse(created.body.job).id);
  expect(job.state, job.error ?? "").toBe("completed");
  const preview = await stack.db.previewDatabase.findUniqueOrThrow({ where: { id: job.preview_database_id! } });
  cleanups.push(() => dropDatabasesAndRoles([preview.databaseName]));
  const credentials = await api(key, "GET", `/v1/projects/${projectId}/preview-databases/${preview.id}/credentials`);
  const { connection_uri } = credentials.body.credentials as { connection_uri: string };
  expect(await pgbenchFingerprint(connection_uri)).toEqual(await pgbenchFingerprint(source.url));
}

afterAll(async () => {
  await Promise.all(cleanups.map((fn) => fn()));
  await stack?.stop();
  await source?.drop();
});

describe("on-demand backup over REST", () => {
  it("backs up, lists, downloads and restores to identical data, decryptable by the customer's own identity", async () => {
    const tenant = await stack.createTenant("acme", "shop", source.url);
    const key = tenant.api_key;
    // The customer's own public key, added as a recipient of the project's new artifacts.
    const added = await api(key, "POST", `/v1/projects/${tenant.project_id}/encryption-recipients`, { label: "ops laptop", public_key: customerRecipient });
    expect(added.status, JSON.stringify(added.body)).toBe(201);

    const created = await api(key, "POST", `/v1/projects/${tenant.project_id}/backups`, { label: "nightly" });
    expect(created.status).toBeLessThan(300);
    const job = Job.parse(created.body.job);
    expect(job).toMatchObject({ type: "backup", state: "pending", max_attempts: 3, project_id: tenant.project_id });
    expect(job.locked_resource).toBe(`database:${job.cluster_id}/${source.name}`);

    const finished = await pollJob(key, job.id);
    expect(finished.state, finished.error ?? "").toBe("completed");
    expect(finished.attempts).toBe(1);
    expect(finished.last_exit_code).toBe(0);
    expect(finished.claimed_by).toBeTruthy();
    expect(finished.completed_at).not.toBeNull();

    const listed = await api(key, "GET", `/v1/projects/${tenant.project_id}/backups`);
    const backups = (listed.body.backups as unknown[]).map((b) => Backup.strict().parse(b));
    expect(backups).toHaveLength(1);
    const backup = backups[0]!;
    expect(backup).toMatchObject({ state: "completed", label: "nightly", database_name: source.name, verification_state: "verified" });
    expect(backup.verified_at).not.toBeNull();
    expect(backup.size_bytes).toBeGreaterThan(100_000);
    expect(backup.backup_key).toContain(backup.id);

    // Encrypted to the platform key and the customer's own recipient: not a readable archive.
    expect(backup).toMatchObject({ compression: "zstd", archive_format: "custom", stored_encoding: "zstd", encryption: "age" });
    expect(backup.encryption_key_id).toMatch(/^enk_/);
    const storedObject = await readFile(path.join(stack.storageDir, backup.backup_key));
    expect(storedObject.includes("PGDMP")).toBe(false);
    expect(storedObject.includes("pgbench_accounts")).toBe(false);

    const file = await download(key, tenant.project_id, backup.id, path.join(dir, "backup.dump"));
    expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${source.name}-${backup.id}.dump"`);
    // The archive, decrypted and decompressed on the fly, of the size verification recorded.
    expect(Number(file.headers.get("content-length"))).toBe((await stat(file.path)).size);
    expect((await readFile(file.path)).subarray(0, 5).toString()).toBe("PGDMP");

    // ?encoding=stored: the stored age bytes, which hash to what was recorded; the customer's own
    // identity and the standard tools (age -d, zstd -d) give the same archive, without Capy.
    const raw = await download(key, tenant.project_id, backup.id, path.join(dir, "backup.dump.zst.age"), "?encoding=stored");
    expect(raw.headers.get("content-disposition")).toBe(`attachment; filename="${source.name}-${backup.id}.dump.zst.age"`);
    expect((await stat(raw.path)).size).toBe(backup.size_bytes);
    const row = await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } });
    expect(sha256(await readFile(raw.path))).toBe(row.sha256);
    await run("age", ["-d", "-i", customerKey, "-o", `${raw.path}.zst`, raw.path]);
    await run("zstd", ["-q", "-d", `${raw.path}.zst`, "-o", `${raw.path}.decoded`]);
    expect((await readFile(`${raw.path}.decoded`)).equals(await readFile(file.path))).toBe(true);

    for (const archive of [file.path, `${raw.path}.decoded`]) await expectRestoresIdentically(archive);
  });

  it("fails a backup of a database that cannot be dumped, with pg_dump's exit code and message", async () => {
    const doomed = await createEmptyDatabase("capy_doomed");
    const tenant = await stack.createTenant("acme", "doomed", doomed.url);
    await doomed.drop();

    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, {});
    const finished = await pollJob(tenant.api_key, Job.parse(created.body.job).id);
    expect(finished.state).toBe("failed");
    expect(finished.retry_classification).toBe("permanent");
    expect(finished.last_exit_code).not.toBe(0);
    expect(finished.last_exit_code).not.toBeNull();
    expect(finished.last_stderr).toContain(`database "${doomed.name}" does not exist`);
    expect(finished.error).toContain("does not exist");

    const listed = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`);
    expect(listed.body.backups).toEqual([]);
    const rows = await withAdminClient((c) => c.query("SELECT count(*)::int AS n FROM backups WHERE job_id = $1", [finished.id]), stack.metadata.url);
    expect(rows.rows[0].n).toBe(0);
  });

  /** A completed backup of `source` through the API: its tenant and its row. */
  async function backupOf(name: string) {
    const tenant = await stack.createTenant("acme", name, source.url);
    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, {});
    const finished = await pollJob(tenant.api_key, Job.parse(created.body.job).id);
    expect(finished.state, finished.error ?? "").toBe("completed");
    return { tenant, backup: await stack.db.backup.findUniqueOrThrow({ where: { jobId: finished.id } }) };
  }

  async function verify(key: string, projectId: string, backupId: string) {
    const created = await api(key, "POST", `/v1/projects/${projectId}/backups/${backupId}/verify`);
    expect(created.status).toBe(201);
    return pollJob(key, Job.parse(created.body.job).id);
  }

  /** Records `bytes` as an extra backup of `backup`'s project, as code before encryption wrote it (`columns`). */
  async function legacyBackup(backup: { id: string; backupKey: string }, suffix: string, bytes: Buffer, columns: string, values: unknown[]) {
    const legacyKey = backup.backupKey.replace(/\.dump$/, `-${suffix}.dump`);
    await writeFile(path.join(stack.storageDir, legacyKey), bytes);
    const legacyId = `${backup.id}${suffix}`;
    const extra = values.map((_, i) => `, $${i + 6}`).join("");
    await withAdminClient(
      (client) =>
        client.query(
          `INSERT INTO backups (id, organization_id, project_id, job_id, database_name, backup_key, size_bytes, sha256, state, verification_state, source_inventory${columns})
           SELECT $1, organization_id, project_id, job_id || $1, database_name, $2, $3, $4, 'completed', 'pending', source_inventory${extra} FROM backups WHERE id = $5`,
          [legacyId, legacyKey, bytes.length, sha256(bytes), backup.id, ...values],
        ),
      stack.metadata.url,
    );
    return legacyId;
  }

  it("still verifies and downloads old unencrypted artifacts: gzip (recorded before encodings were) and zstd", async () => {
    const { tenant, backup } = await backupOf("legacy");
    // What the old code stored: pg_dump -Fc (gzip inside), its row without any encoding column;
    // and, before encryption, an uncompressed archive in one zstd stream.
    const gzipArchive = await run("pg_dump", ["-Fc", "-f", path.join(dir, "legacy.dump"), source.url]).then(() => readFile(path.join(dir, "legacy.dump")));
    await run("pg_dump", ["-Fc", "-Z0", "-f", path.join(dir, "legacy-z0.dump"), source.url]);
    await run("zstd", ["-q", "-1", path.join(dir, "legacy-z0.dump"), "-o", path.join(dir, "legacy-z0.dump.zst")]);
    const zstdArchive = await readFile(path.join(dir, "legacy-z0.dump"));
    const zstdBytes = await readFile(path.join(dir, "legacy-z0.dump.zst"));
    const gzipId = await legacyBackup(backup, "gz", gzipArchive, "", []);
    const zstdId = await legacyBackup(backup, "zs", zstdBytes, ", compression, stored_encoding", ["zstd", "zstd"]);
    const listed = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`);
    const byId = new Map((listed.body.backups as unknown[]).map((b) => Backup.strict().parse(b)).map((b) => [b.id, b]));
    expect(byId.get(gzipId)).toMatchObject({
      compression: "gzip",
      archive_format: "custom",
      stored_encoding: "identity",
      encryption: null,
      encryption_key_id: null,
    });
    expect(byId.get(zstdId)).toMatchObject({ compression: "zstd", stored_encoding: "zstd", encryption: null, encryption_key_id: null });

    const cases = [
      { id: gzipId, archive: gzipArchive, stored: gzipArchive, storedName: ".dump" },
      { id: zstdId, archive: zstdArchive, stored: zstdBytes, storedName: ".dump.zst" },
    ];
    for (const legacy of cases) {
      const job = await verify(tenant.api_key, tenant.project_id, legacy.id);
      expect(job.state, job.error ?? "").toBe("completed");
      expect(await stack.db.backup.findUniqueOrThrow({ where: { id: legacy.id } })).toMatchObject({
        verificationState: "verified",
        archiveSizeBytes: BigInt(legacy.archive.length),
      });
      for (const [query, bytes, name] of [
        ["", legacy.archive, ".dump"],
        ["?encoding=stored", legacy.stored, legacy.storedName],
      ] as const) {
        const file = await download(tenant.api_key, tenant.project_id, legacy.id, path.join(dir, `${legacy.id}${name}`), query);
        expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${source.name}-${legacy.id}${name}"`);
        expect(Number(file.headers.get("content-length"))).toBe(bytes.length);
        expect((await readFile(file.path)).equals(bytes)).toBe(true);
      }
    }
    // And a restore job (into a new preview) reads the old zstd artifact too.
    await expectRestoreJobRestoresIdentically(tenant.api_key, tenant.project_id, zstdId);
  });

  it("verifies and restores backups made before and after a key rotation, each with its own key", async () => {
    const { tenant, backup: before } = await backupOf("rotating");
    const rotated = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/encryption-keys/rotate`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, {});
    const finished = await pollJob(tenant.api_key, Job.parse(created.body.job).id);
    expect(finished.state, finished.error ?? "").toBe("completed");
    const after = await stack.db.backup.findUniqueOrThrow({ where: { jobId: finished.id } });
    expect(after.encryptionKeyId).toBe((rotated.body.encryption_key as { id: string }).id);
    expect(after.encryptionKeyId).not.toBe(before.encryptionKeyId);
    expect(await stack.db.projectEncryptionKey.findUniqueOrThrow({ where: { id: before.encryptionKeyId! } })).toMatchObject({ retiredAt: expect.any(Date) });
    for (const backup of [before, after]) {
      const job = await verify(tenant.api_key, tenant.project_id, backup.id);
      expect(job.state, job.error ?? "").toBe("completed");
      await expectRestoresIdentically((await download(tenant.api_key, tenant.project_id, backup.id, path.join(dir, `${backup.id}.dump`))).path);
    }
    // A restore job of the backup made before the rotation decrypts with the retired key.
    await expectRestoreJobRestoresIdentically(tenant.api_key, tenant.project_id, before.id);
  });

  it("fails the verification of an artifact whose age authentication fails, and a download with the wrong key, saying so", async () => {
    const { tenant, backup } = await backupOf("corrupt");
    // Bytes that were already broken when stored (their SHA-256 recorded as they are): a garbled
    // stretch in the middle of the age stream, which its authentication refuses.
    const file = path.join(stack.storageDir, backup.backupKey);
    const original = await readFile(file);
    const bytes = Buffer.from(original);
    const middle = Math.floor(bytes.length / 2);
    bytes.fill(0x55, middle, middle + 64);
    await writeFile(file, bytes);
    await stack.db.backup.update({ where: { id: backup.id }, data: { sha256: sha256(bytes) } });

    const job = await verify(tenant.api_key, tenant.project_id, backup.id);
    expect(job).toMatchObject({ state: "failed", retry_classification: "verification" });
    expect(job.error).toBe(
      "artifact does not decrypt: decryption failed: age exited with code 1: age: error: failed to decrypt and authenticate payload chunk",
    );
    expect(await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } })).toMatchObject({ verificationState: "failed", verificationError: job.error });

    // The intact bytes, but the row names another project's key: a 409 naming the key, no garbage.
    await writeFile(file, original);
    const other = await backupOf("other-key");
    await stack.db.backup.update({ where: { id: backup.id }, data: { sha256: sha256(original), encryptionKeyId: other.backup.encryptionKeyId } });
    const response = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups/${backup.id}/download`);
    expect(response).toEqual({
      status: 409,
      body: {
        error: `artifact is encrypted to key ${other.backup.encryptionKeyId} which does not match any of its recipients (age: no identity matched any of the recipients)`,
      },
    });
  });
});
