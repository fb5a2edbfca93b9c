// LOG_PRETTY: pino-pretty lines instead of JSON, from the built API as `pnpm dev` runs it.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { createTestStack, REPO_ROOT, startApi, type TestStack, waitFor } from "@capy/testing";
import { afterAll, describe, expect, it } from "vitest";
import { loggableUrl } from "./logger.js";

describe("the API's logs", () => {
  let stack: TestStack | undefined;
  afterAll(async () => stack?.stop());

  it("are readable lines through pino-pretty with LOG_PRETTY=1, JSON otherwise", async () => {
    stack = await createTestStack();
    const pretty = await startApi({ ...stack.env, LOG_PRETTY: "1" });
    try {
      await waitFor(() => /INFO.*api listening/.test(pretty.logs()), { timeoutMs: 10_000, what: "a pretty 'api listening' line" });
      expect(pretty.logs()).not.toContain('"msg":"api listening"');
      // One line per request: method, path as sent, status and duration.
      const before = pretty.logs().split("\n").length;
      expect((await fetch(`${pretty.baseUrl}/v1/me?verbose=1`)).status).toBe(401);
      const line = await waitFor(
        () =>
          pretty
            .logs()
            .split("\n")
            .find((text) => text.includes("GET /v1/me")),
        { timeoutMs: 10_000, what: "the request's line" },
      );
      // biome-ignore lint/suspicious/noControlCharactersInRegex: pino-pretty's colours
      expect(line.replace(/\x1b\[[0-9;]*m/g, "")).toMatch(/INFO.*: GET \/v1\/me 401 \d+\.\d ms$/);
      expect(pretty.logs().split("\n").length - before).toBe(1);
    } finally {
      await pretty.stop();
    }
    const json = await stack.startApi();
    await waitFor(() => json.logs().includes('"msg":"api listening"'), { timeoutMs: 10_000, what: "a JSON 'api listening' line" });
  });
});

describe("request logs", () => {
  let stack: TestStack | undefined;
  afterAll(async () => stack?.stop());

  it("are one line per request, written when it completes: its request, real status and duration, and nothing is sent twice", async () => {
    stack = await createTestStack();
    const api = await stack.startApi();
    const tenant = await stack.createTenant("acme", "logs", "postgresql://postgres@127.0.0.1:5432/capy_logs_never_dumped");
    const response = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.api_key}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "logged" }),
    });
    expect(response.status).toBe(201);
    const requestId = response.headers.get("x-request-id");
    type Line = { reqId?: string; msg?: string; req?: { method?: string; url?: string }; res?: { statusCode?: number }; responseTime?: number };
    const lines = () =>
      api
        .logs()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Line);
    const completed = await waitFor(() => lines().find((line) => line.msg === "request completed" && line.reqId === requestId), {
      timeoutMs: 10_000,
      what: "the request's log line",
    });
    expect(completed).toMatchObject({ req: { method: "POST", url: `/v1/projects/${tenant.project_id}/backups` }, res: { statusCode: 201 } });
    expect(completed.responseTime).toBeGreaterThan(0);
    // Its only line: Fastify's "incoming request" line is not written.
    expect(lines().filter((line) => line.reqId === requestId)).toHaveLength(1);
    expect(api.logs()).not.toContain("incoming request");
    expect(api.logs()).not.toContain("ERR_HTTP_HEADERS_SENT");
    expect(api.logs()).not.toContain("Reply was already sent");
  });
});

describe("a request's URL in the logs", () => {
  it("has the values of credential parameters redacted, however their names are written", () => {
    expect(loggableUrl("/admin/queues?token=op-secret&page=2")).toBe("/admin/queues?token=[redacted]&page=2");
    expect(loggableUrl("/x?%74oken=op-secret")).toBe("/x?token=[redacted]");
    expect(loggableUrl("/x?TOKEN=a&api_key=b&Signature=c")).toBe("/x?TOKEN=[redacted]&api_key=[redacted]&Signature=[redacted]");
  });

  it("is as received when it carries no credential", () => {
    for (const url of ["/v1/me", "/v1/projects/prj_1/backups?limit=10&cursor=a%2Fb", "/trpc/jobs.get?input=%7B%22jobID%22%3A%22job_1%22%7D"])
      expect(loggableUrl(url)).toBe(url);
  });
});

describe("the API's error lines", () => {
  it("leave out a Redis error's failed command (its AUTH holds REDIS_URL's password)", async () => {
    const password = "redis-password-never-logged-4567";
    const logger = path.join(REPO_ROOT, "apps/api/dist/logger.js");
    // ioredis's shape for a refused login (apps/worker/src/logger.test.ts gets it from a real Redis).
    const script = `const { createLogger } = await import(${JSON.stringify(logger)});
      const error = Object.assign(new Error("WRONGPASS invalid username-password pair"), { command: { name: "hello", args: ["3", "AUTH", "default", ${JSON.stringify(password)}] } });
      createLogger({ logLevel: "info" }).error({ err: error }, "redis failed");`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { cwd: path.join(REPO_ROOT, "apps/api") });
    expect(JSON.parse(stdout)).toMatchObject({ msg: "redis failed", err: { message: "WRONGPASS invalid username-password pair" } });
    expect(stdout).not.toContain(password);
  });
});
