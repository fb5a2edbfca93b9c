// The same core flow as e2e/backup-restore.test.ts, through the typed SDK over native tRPC.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
  pgbenchFingerprint,
  run,
  startApi,
  type TestDatabase,
  type TestStack,
  waitFor,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCapyClient, describeError, errorStatus } from "./index.js";

let stack: TestStack;
let source: TestDatabase;
let target: TestDatabase | undefined;
let dir: string;

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(1)]);
  await Promise.all([stack.startApi(), stack.startWorker()]);
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-sdk-"));
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([source?.drop(), target?.drop(), dir && rm(dir, { recursive: true, force: true })]);
});

describe("createCapyClient", () => {
  it("backs up, polls, lists, downloads and restores through tRPC", async () => {
    const tenant = await stack.createTenant("sdk-org", "sdk-project", source.url);
    const capy = createCapyClient({ baseUrl: stack.api!.baseUrl, apiKey: tenant.api_key });

    const { job } = await capy.backups.create.mutate({ id: tenant.project_id, label: "via sdk" });
    expect(job.state).toBe("pending");
    const finished = await waitFor(
      async () => {
        const { job: current } = await capy.jobs.get.query({ jobID: job.id });
        return ["completed", "failed", "canceled"].includes(current.state) ? current : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: "the backup job" },
    );
    expect(finished.state, finished.error ?? "").toBe("completed");

    const { jobs } = await capy.jobs.list.query({ id: tenant.project_id, limit: 25 });
    expect(jobs.map((j) => j.id)).toContain(job.id);
    const { backups } = await capy.backups.list.query({ id: tenant.project_id });
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ label: "via sdk", state: "completed" });

    const download = await capy.downloadBackup(tenant.project_id, backups[0]!.id);
    const file = path.join(dir, download.filename ?? "backup.dump");
    await pipeline(Readable.fromWeb(download.body as never), createWriteStream(file));
    // The archive, decompressed by the server: the size it announced, larger than the zstd artifact.
    expect(download.sizeBytes).toBe((await stat(file)).size);
    expect(download.sizeBytes).toBeGreaterThan(backups[0]!.size_bytes);
    target = await createEmptyDatabase("capy_sdk_restore");
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", target.url, file]);
    expect(await pgbenchFingerprint(target.url)).toEqual(await pgbenchFingerprint(source.url));
  });

  it("surfaces the HTTP status of a rejected call", async () => {
    const capy = createCapyClient({ baseUrl: stack.api!.baseUrl, apiKey: "capy_live_not-a-real-key" });
    const failure = await capy.backups.list.query({ id: "prj_missing" }).catch((error: unknown) => error);
    expect(errorStatus(failure)).toBe(401);
  });

  it("says when a rate-limited caller may retry", async () => {
    const tenant = await stack.createTenant("sdk-limited-org", "sdk-limited-project", source.url);
    const limited = await startApi({ ...stack.env, RATE_LIMIT_PER_MINUTE: "1" });
    try {
      const capy = createCapyClient({ baseUrl: limited.baseUrl, apiKey: tenant.api_key });
      await capy.me.get.query({});
      const failure = await capy.me.get.query({}).catch((error: unknown) => error);
      const described = describeError(failure);
      expect(described).toMatchObject({ status: 429, message: expect.stringMatching(/^rate limit exceeded/) });
      expect(described.retryAfterSeconds).toBeGreaterThan(0);
      expect(described.retryAfterSeconds).toBeLessThanOrEqual(60);
    } finally {
      await limited.stop();
    }
  });
});
