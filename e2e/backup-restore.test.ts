// The product's core promise, end to end over REST: a user with an API key backs up a real
// database through a real API and a real worker process, downloads the artifact and restores
// it with pg_restore into identical data. The artifact is stored zstd-compressed; the download
// gives the pg_restore archive unless ?encoding=stored asks for the stored bytes. Old gzip
// artifacts still verify and download; a corrupted zstd artifact fails verification precisely.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Backup, Job } from "@capy/contracts";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
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

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(2)]);
  await Promise.all([stack.startApi(), stack.startWorker()]);
});

afterAll(async () => {
  await Promise.all(cleanups.map((fn) => fn()));
  await stack?.stop();
  await source?.drop();
});

describe("on-demand backup over REST", () => {
  it("backs up, lists, downloads and restores to identical data", async () => {
    const tenant = await stack.createTenant("acme", "shop", source.url);
    const key = tenant.api_key;

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

    const dir = await mkdtemp(path.join(os.tmpdir(), "capy-e2e-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, "backup.dump");
    const download = await fetch(`${stack.api!.baseUrl}/v1/projects/${tenant.project_id}/backups/${backup.id}/download`, {
      headers: { "x-api-key": key },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toMatch(/attachment; filename=".+\.dump"/);
    await pipeline(Readable.fromWeb(download.body! as never), createWriteStream(file));
    // The archive, decompressed on the fly, of the size verification recorded.
    expect(backup).toMatchObject({ compression: "zstd", archive_format: "custom", stored_encoding: "zstd" });
    expect(Number(download.headers.get("content-length"))).toBe((await stat(file)).size);
    expect((await readFile(file)).subarray(0, 5).toString()).toBe("PGDMP");

    // ?encoding=stored: the stored zstd bytes, which hash to what was recorded and decode to the same archive.
    const raw = path.join(dir, "backup.dump.zst");
    const stored = await fetch(`${stack.api!.baseUrl}/v1/projects/${tenant.project_id}/backups/${backup.id}/download?encoding=stored`, {
      headers: { "x-api-key": key },
    });
    expect(stored.status).toBe(200);
    expect(stored.headers.get("content-disposition")).toMatch(/attachment; filename=".+\.dump\.zst"/);
    await pipeline(Readable.fromWeb(stored.body! as never), createWriteStream(raw));
    expect((await stat(raw)).size).toBe(backup.size_bytes);
    const row = await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } });
    expect(sha256(await readFile(raw))).toBe(row.sha256);
    await run("zstd", ["-q", "-d", raw, "-o", `${raw}.decoded`]);
    expect((await readFile(`${raw}.decoded`)).equals(await readFile(file))).toBe(true);

    const target = await createEmptyDatabase("capy_restore");
    cleanups.push(() => target.drop());
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", target.url, file]);
    expect(await pgbenchFingerprint(target.url)).toEqual(await pgbenchFingerprint(source.url));
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

  it("still verifies and downloads an old gzip artifact (a pg_dump -Fc archive, recorded before encodings were)", async () => {
    const { tenant, backup } = await backupOf("legacy");
    // What the old code stored: pg_dump -Fc (gzip inside), its row without any encoding column.
    const legacyKey = backup.backupKey.replace(/\.dump$/, "-legacy.dump");
    const legacyFile = path.join(stack.storageDir, legacyKey);
    await run("pg_dump", ["-Fc", "-f", legacyFile, source.url]);
    const bytes = await readFile(legacyFile);
    const legacyId = `${backup.id}old`;
    await withAdminClient(
      (client) =>
        client.query(
          `INSERT INTO backups (id, organization_id, project_id, job_id, database_name, backup_key, size_bytes, sha256, state, verification_state, source_inventory)
           SELECT $1, organization_id, project_id, job_id || 'old', database_name, $2, $3, $4, 'completed', 'pending', source_inventory FROM backups WHERE id = $5`,
          [legacyId, legacyKey, bytes.length, sha256(bytes), backup.id],
        ),
      stack.metadata.url,
    );
    const listed = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`);
    const legacy = (listed.body.backups as unknown[]).map((b) => Backup.strict().parse(b)).find((b) => b.id === legacyId)!;
    expect(legacy).toMatchObject({ compression: "gzip", archive_format: "custom", stored_encoding: "identity" });

    const job = await verify(tenant.api_key, tenant.project_id, legacyId);
    expect(job.state, job.error ?? "").toBe("completed");
    expect(await stack.db.backup.findUniqueOrThrow({ where: { id: legacyId } })).toMatchObject({
      verificationState: "verified",
      archiveSizeBytes: BigInt(bytes.length),
    });
    for (const encoding of ["", "?encoding=stored"]) {
      const download = await fetch(`${stack.api!.baseUrl}/v1/projects/${tenant.project_id}/backups/${legacyId}/download${encoding}`, {
        headers: { "x-api-key": tenant.api_key },
      });
      expect(download.status).toBe(200);
      expect(Number(download.headers.get("content-length"))).toBe(bytes.length);
      expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it("fails the verification of a zstd artifact that does not decompress, saying so", async () => {
    const { tenant, backup } = await backupOf("corrupt");
    // Bytes that were already broken when stored (their SHA-256 recorded as they are): a garbled
    // stretch in the middle of the zstd stream.
    const file = path.join(stack.storageDir, backup.backupKey);
    const bytes = await readFile(file);
    const middle = Math.floor(bytes.length / 2);
    bytes.fill(0x55, middle, middle + 64);
    await copyFile(file, `${file}.orig`);
    await writeFile(file, bytes);
    await stack.db.backup.update({ where: { id: backup.id }, data: { sha256: sha256(bytes) } });

    const job = await verify(tenant.api_key, tenant.project_id, backup.id);
    expect(job).toMatchObject({ state: "failed", retry_classification: "verification" });
    expect(job.error).toMatch(/^artifact does not decompress: decompression failed: zstd exited with code 1: .*(corrupt|Data corruption|error)/i);
    expect(await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } })).toMatchObject({ verificationState: "failed", verificationError: job.error });
  });
});
