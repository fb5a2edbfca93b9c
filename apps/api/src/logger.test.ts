// LOG_PRETTY: pino-pretty lines instead of JSON, from the built API as `pnpm dev` runs it.

import { createTestStack, startApi, type TestStack, waitFor } from "@capy/testing";
import { afterAll, describe, expect, it } from "vitest";

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

  it("record a REST request's real status, and nothing is sent twice", async () => {
    stack = await createTestStack();
    const api = await stack.startApi();
    const tenant = await stack.createTenant("acme", "logs", "postgresql://postgres@127.0.0.1:5432/capy_logs_never_dumped");
    const response = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.api_key}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "logged" }),
    });
    expect(response.status).toBe(201);
    // The request's id from its "incoming request" line, then its "request completed" line.
    const lines = () =>
      api
        .logs()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { reqId?: string; msg?: string; req?: { url?: string }; res?: { statusCode?: number } });
    const completed = () => {
      const incoming = lines().find((line) => line.msg === "incoming request" && line.req?.url?.endsWith("/backups"));
      return lines().find((line) => line.msg === "request completed" && line.reqId === incoming?.reqId);
    };
    await waitFor(() => completed() !== undefined, { timeoutMs: 10_000, what: "the request's log line" });
    expect(completed()?.res?.statusCode).toBe(201);
    expect(api.logs()).not.toContain("ERR_HTTP_HEADERS_SENT");
    expect(api.logs()).not.toContain("Reply was already sent");
  });
});
