// A worker SIGKILLed in the middle of an S3 upload: nothing becomes visible (no object, no backup),
// only an incomplete multipart upload remains; the storage recovery sweep of a later worker
// aborts it once it is older than STORAGE_SWEEP_MIN_AGE_MS, and spares it while it is younger.
// (Who finishes the killed job is worker-loss recovery, not tested here: the job may stay running.)
import { readdir } from "node:fs/promises";
import { Job } from "@capy/contracts";
import {
  createPgbenchDatabase,
  createTestStack,
  type S3TestServer,
  type ServiceProcess,
  startS3Server,
  type TestDatabase,
  type TestStack,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

const KEY_PREFIX = "capy/recovery";
/** Incompressible bytes added to the source, so its dump (~80 MB) spans several 16 MiB parts. */
const RANDOM_MIB = 64;

let s3: S3TestServer;
let stack: TestStack;
let source: TestDatabase;

const { api } = e2eApi(() => stack.api!.baseUrl);

beforeAll(async () => {
  s3 = await startS3Server();
  [stack, source] = await Promise.all([createTestStack(s3.env({ keyPrefix: KEY_PREFIX })), createPgbenchDatabase(1)]);
  // pgbench data compresses to ~0.3 MB per scale unit: scale 20-30 dumps to < 16 MiB, one
  // PutObject, no multipart upload to interrupt. Random bytes do not compress, and pg_dump takes
  // several seconds over them, which keeps the multipart upload in flight while the test kills.
  await withAdminClient(async (client) => {
    await client.query("CREATE EXTENSION IF NOT EXISTS pgcrypto");
    await client.query(`CREATE TABLE noise AS SELECT g AS id, gen_random_bytes(1024) AS data FROM generate_series(1, ${RANDOM_MIB * 1024}) g`);
  }, source.url);
  await stack.startApi();
});

afterAll(async () => {
  await stack?.stop();
  await source?.drop();
  await s3?.close();
});

/** The worker's "storage sweep finished" log lines, parsed. */
function sweepLines(worker: ServiceProcess): Array<{ backend: string; removed_count: number; removed: string[] }> {
  return worker
    .logs()
    .split("\n")
    .filter((line) => line.includes('"msg":"storage sweep finished"'))
    .map((line) => JSON.parse(line) as { backend: string; removed_count: number; removed: string[] });
}

describe("a worker killed mid-upload to S3", () => {
  it("leaves no visible object, and the recovery sweep aborts its multipart upload", async () => {
    const tenant = await stack.createTenant("recovery-org", "recovery", source.url);
    const projectPrefix = `${KEY_PREFIX}/projects/${tenant.project_id}/`;
    const victim = await stack.startWorker({ WORKER_ID: "recovery-victim", WORKER_CONCURRENCY: "1" });

    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, { label: "doomed" });
    expect(created.status).toBeLessThan(300);
    const jobId = Job.parse(created.body.job).id;

    // Kill once the job runs and its multipart upload has started (parts are going up).
    const [upload] = await waitFor(
      async () => {
        const { body } = await api(tenant.api_key, "GET", `/v1/jobs/${jobId}`);
        const job = Job.parse(body.job);
        if (job.state !== "running") return undefined;
        const uploads = await s3.pendingUploads(projectPrefix);
        return uploads.length > 0 ? uploads : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: "the backup's multipart upload to be in flight" },
    );
    expect(await victim.stop("SIGKILL")).toBe("SIGKILL");
    const running = Job.parse((await api(tenant.api_key, "GET", `/v1/jobs/${jobId}`)).body.job);
    expect(running).toMatchObject({ state: "running", claimed_by: "recovery-victim" });

    // Nothing visible: no object in the bucket, no backup listed; the upload is left over.
    expect(await s3.objectKeys(`${KEY_PREFIX}/`)).toEqual([]);
    expect((await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/backups`)).body.backups).toEqual([]);
    expect((await s3.pendingUploads()).map((pending) => pending.uploadId)).toEqual([upload!.uploadId]);
    expect(upload!.key).toMatch(new RegExp(`^${projectPrefix}backups/${jobId}/1-bkp_[^/]+\\.dump$`));

    // A worker with the default minimum age (6 h) sweeps at start and spares the young upload.
    const patient = await stack.startWorker({ WORKER_ID: "recovery-patient" });
    const [spared] = await waitFor(
      () => {
        const lines = sweepLines(patient);
        return lines.length > 0 ? lines : undefined;
      },
      { what: "the default worker's start-up sweep" },
    );
    expect(spared).toMatchObject({ backend: "s3", removed_count: 0 });
    expect((await s3.pendingUploads()).map((pending) => pending.uploadId)).toEqual([upload!.uploadId]);
    await patient.stop();

    // Recovery: a worker whose minimum age the leftover exceeds aborts it in its start-up sweep.
    const minAgeMs = 1_000;
    await waitFor(() => Date.now() - upload!.initiated.getTime() > minAgeMs, { what: `the leftover upload to be ${minAgeMs} ms old` });
    const sweeper = await stack.startWorker({ WORKER_ID: "recovery-sweeper", STORAGE_SWEEP_MIN_AGE_MS: String(minAgeMs) });
    const [swept] = await waitFor(
      () => {
        const lines = sweepLines(sweeper);
        return lines.length > 0 ? lines : undefined;
      },
      { what: "the recovery sweep" },
    );
    expect(swept).toMatchObject({ backend: "s3", removed_count: 1, removed: [upload!.key.slice(KEY_PREFIX.length + 1)] });
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await s3.objectKeys(`${KEY_PREFIX}/`)).toEqual([]);
    expect(await readdir(stack.storageDir, { recursive: true })).toEqual([]);
  });
});
