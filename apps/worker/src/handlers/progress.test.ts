// A running job shows its phase and how many bytes it has streamed: queued → dumping (with
// progress_bytes growing while pg_dump streams) → verifying → done.
import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createEmptyDatabase, type TestDatabase, waitFor, withAdminClient } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePgTool } from "../postgres/tools.js";
import { createHarness, type Harness, submitJob, waitForJob } from "../test-helpers.js";

describe("job phase and progress", () => {
  let harness: Harness;
  let source: TestDatabase;
  let binDir: string;

  beforeAll(async () => {
    [harness, source] = await Promise.all([createHarness(), createEmptyDatabase()]);
    await withAdminClient(async (client) => {
      await client.query("CREATE TABLE items AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 20000) AS g");
    }, source.url);
    // The real pg_dump, whose archive pauses after its first 1000 bytes.
    const searchPath = process.env.PATH ?? "";
    binDir = await mkdtemp(path.join(os.tmpdir(), "capy-paused-pg-dump-"));
    const realDump = resolvePgTool("pg_dump", { binDir: undefined, searchPath });
    const script = [
      "#!/bin/sh",
      `if [ "$1" = "--version" ]; then exec "${realDump}" --version; fi`,
      `"${realDump}" "$@" | { head -c 1000; sleep 2.5; cat; }`,
      "",
    ].join("\n");
    await writeFile(path.join(binDir, "pg_dump"), script);
    await chmod(path.join(binDir, "pg_dump"), 0o755);
    await symlink(resolvePgTool("pg_restore", { binDir: undefined, searchPath }), path.join(binDir, "pg_restore"));
    // Progress counts stored bytes: gzip (inside the archive) and no encryption store the paused
    // 1000 bytes as they come, where zstd would hold them until its block fills and age until
    // its 64 KiB chunk does.
    await harness.stack.startWorker({ PG_BIN_DIR: binDir, BACKUP_COMPRESSION: "gzip:6", BACKUP_ENCRYPTION: "none" });
  });

  afterAll(async () => {
    await harness?.close();
    await source?.drop();
    if (binDir) await rm(binDir, { recursive: true, force: true });
  });

  it("records the phase and the bytes streamed so far", async () => {
    const tenant = await harness.stack.createTenant("acme", "progress", source.url);
    const job = await submitJob(harness, tenant.project_id);
    expect(job.phase).toBe("queued");

    const dumping = await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        // The dump is paused after 1000 bytes for 2.5 s: long enough for those to be recorded.
        return row.phase === "dumping" && row.progressBytes === 1000n ? row : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: "the job to show 1000 bytes dumped" },
    );
    expect(dumping.state).toBe("running");

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed"]);
    expect(done.state).toBe("completed");
    const backup = await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(backup.sizeBytes).toBeGreaterThan(1000n);
    expect(done).toMatchObject({ phase: "done", progressBytes: backup.sizeBytes });
  });
});
