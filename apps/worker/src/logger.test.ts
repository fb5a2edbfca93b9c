// LOG_PRETTY: pino-pretty lines instead of JSON, from the built logger as `pnpm dev` runs it.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, TEST_REDIS_URL } from "@capy/testing";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

async function logWith(pretty: boolean): Promise<string> {
  const logger = path.join(REPO_ROOT, "apps/worker/dist/logger.js");
  const script = `const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger("info", { service: "capy-worker" }, { pretty: ${pretty} });
    log.info({ job_id: "job_1" }, "hello logs");`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: path.join(REPO_ROOT, "apps/worker") });
  return stdout;
}

describe("the worker's logger", () => {
  it("writes JSON lines by default", async () => {
    expect(JSON.parse(await logWith(false))).toMatchObject({ level: "info", msg: "hello logs", job_id: "job_1", service: "capy-worker" });
  });

  it("writes readable lines through pino-pretty when asked", async () => {
    const output = await logWith(true);
    expect(output).toMatch(/INFO.*hello logs/);
    expect(output).toMatch(/job_id.*job_1/);
    expect(output.trimStart().startsWith("{")).toBe(false);
  });
});

describe("the worker's error lines", () => {
  it("hold no Redis password when Redis refuses the login (ioredis puts the AUTH and its arguments on the error)", async () => {
    const password = "redis-password-never-logged-0123";
    const url = new URL(TEST_REDIS_URL);
    [url.username, url.password] = ["capy_no_such_user", password];
    const logger = path.join(REPO_ROOT, "apps/worker/dist/logger.js");
    // A worker's connection, as BullMQ's workers get it; its first error is what they log.
    const script = `const { createLogger } = await import(${JSON.stringify(logger)});
      const { createWorkerConnection } = await import("@capy/queue");
      const redis = createWorkerConnection({ url: ${JSON.stringify(url.href)}, prefix: "unused" });
      const error = await new Promise((resolve) => redis.once("error", resolve));
      redis.disconnect();
      console.error(JSON.stringify(error.command ?? null));
      createLogger("info", { service: "capy-worker" }).error({ err: error }, "redis failed");`;
    const { stdout, stderr } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: path.join(REPO_ROOT, "apps/worker") });
    // The error itself carries the password: what the logger must leave out.
    expect(stderr).toContain(password);
    const line = JSON.parse(stdout) as { msg: string; err: { message: string } };
    expect(line).toMatchObject({ msg: "redis failed", err: { message: expect.stringMatching(/WRONGPASS/) } });
    expect(stdout).not.toContain(password);
  });
});
