// The product's core promise, end to end over REST: a user with an API key backs up a real
// database through a real API and a real worker process, downloads the artifact and restores
// it with pg_restore into identical data.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backup, Job } from "@capy/contracts";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
  pgbenchFingerprint,
  run,
  withAdminClient,
  type TestDatabase,
  type TestStack,
} from "@capy/testing";
import { e2eApi } from "./support.js";

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
    expect(Number(download.headers.get("content-length"))).toBe(backup.size_bytes);
    expect(download.headers.get("content-disposition")).toMatch(/attachment; filename=".+\.dump"/);
    await pipeline(Readable.fromWeb(download.body! as never), createWriteStream(file));
    expect((await stat(file)).size).toBe(backup.size_bytes);

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
});
