// LOG_PRETTY: pino-pretty lines instead of JSON, from the built logger as `pnpm dev` runs it.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "@capy/testing";
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
