// A fleet on S3 end to end: one API and two worker processes, all configured for an S3-compatible
// store (s3rver through startS3Server, S3_* variables as in production), back up two tenants'
// databases. Every backup — whichever worker made it — is listed, downloaded through the API and
// restored with pg_restore into identical data, and nothing touches the filesystem STORAGE_DIR.
import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
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
  type S3TestServer,
  startS3Server,
  type TestDatabase,
  type TestStack,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

const KEY_PREFIX = "capy/fleet";
const WORKER_IDS = ["fleet-worker-a", "fleet-worker-b"] as const;

let s3: S3TestServer;
let stack: TestStack;
let sources: TestDatabase[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);

beforeAll(async () => {
  s3 = await startS3Server();
  [stack, ...sources] = await Promise.all([createTestStack(s3.env({ keyPrefix: KEY_PREFIX })), createPgbenchDatabase(1), createPgbenchDatabase(2)]);
  // One job at a time per worker, so that simultaneous jobs spread over both processes.
  await Promise.all([stack.startApi(), ...WORKER_IDS.map((id) => stack.startWorker({ WORKER_ID: id, WORKER_CONCURRENCY: "1" }))]);
});

afterAll(async () => {
  await Promise.all(cleanups.map((fn) => fn()));
  await stack?.stop();
  await Promise.all(sources.map((source) => source.drop()));
  await s3?.close();
});

describe("S3 storage with one API and two workers", () => {
  it("backs up two tenants with both workers; every backup downloads and restores identically", async () => {
    // One after the other: both tenants' databases share a cluster row, which createTenant upserts.
    const tenants: Array<Awaited<ReturnType<TestStack["createTenant"]>>> = [];
    for (const [index, source] of sources.entries()) tenants.push(await stack.createTenant(`fleet-org-${index}`, `fleet-${index}`, source.url));
    // Four jobs at once, alternating tenants: both idle workers take one each straight away.
    const requests = [0, 1, 2, 3].map((n) => ({ tenant: tenants[n % 2]!, source: sources[n % 2]!, label: `fleet ${n}` }));
    const created = await Promise.all(
      requests.map((request) => api(request.tenant.api_key, "POST", `/v1/projects/${request.tenant.project_id}/backups`, { label: request.label })),
    );
    for (const response of created) expect(response.status).toBeLessThan(300);
    const jobs = await Promise.all(created.map((response, n) => pollJob(requests[n]!.tenant.api_key, Job.parse(response.body.job).id)));
    for (const job of jobs) {
      expect(job.state, job.error ?? "").toBe("completed");
      expect(job.last_exit_code).toBe(0);
    }
    expect(new Set(jobs.map((job) => job.claimed_by))).toEqual(new Set(WORKER_IDS));

    const dir = await mkdtemp(path.join(os.tmpdir(), "capy-e2e-s3-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const madeBy: Record<string, string> = {};
    const storedKeys: string[] = [];
    for (const [index, tenant] of tenants.entries()) {
      const listed = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`);
      expect(listed.status).toBe(200);
      const backups = (listed.body.backups as unknown[]).map((b) => Backup.strict().parse(b));
      expect(backups.map((backup) => backup.label).sort()).toEqual(
        requests
          .filter((request) => request.tenant === tenant)
          .map((request) => request.label)
          .sort(),
      );
      const expected = await pgbenchFingerprint(sources[index]!.url);
      for (const backup of backups) {
        expect(backup).toMatchObject({ state: "completed", database_name: sources[index]!.name, project_id: tenant.project_id });
        expect(backup.size_bytes).toBeGreaterThan(100_000);
        storedKeys.push(`${KEY_PREFIX}/${backup.backup_key}`);
        madeBy[backup.id] = jobs[requests.findIndex((request) => request.label === backup.label)]!.claimed_by!;

        const file = path.join(dir, `${backup.id}.dump`);
        const download = await fetch(`${stack.api!.baseUrl}/v1/projects/${tenant.project_id}/backups/${backup.id}/download`, {
          headers: { "x-api-key": tenant.api_key },
        });
        expect(download.status).toBe(200);
        await pipeline(Readable.fromWeb(download.body! as never), createWriteStream(file));
        // The archive, decrypted and decompressed from the stored artifact on the fly.
        expect(Number(download.headers.get("content-length"))).toBe((await stat(file)).size);

        const target = await createEmptyDatabase("capy_restore");
        cleanups.push(() => target.drop());
        await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", target.url, file]);
        expect(await pgbenchFingerprint(target.url), `backup ${backup.id} made by ${madeBy[backup.id]}`).toEqual(expected);
      }
    }
    // Restored backups came from both workers.
    expect(new Set(Object.values(madeBy))).toEqual(new Set(WORKER_IDS));

    // The artifacts are in the bucket under the key prefix, complete, and nowhere else.
    expect(await s3.objectKeys(`${KEY_PREFIX}/`)).toEqual(storedKeys.sort());
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await readdir(stack.storageDir, { recursive: true })).toEqual([]);
  });
});
