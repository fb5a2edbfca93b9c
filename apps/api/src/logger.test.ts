// LOG_PRETTY: pino-pretty lines instead of JSON, from the built API as `pnpm dev` runs it.
import { afterAll, describe, expect, it } from "vitest";
import { createTestStack, startApi, waitFor, type TestStack } from "@capy/testing";

describe("the API's logs", () => {
  let stack: TestStack | undefined;
  afterAll(async () => stack?.stop());

  it("are readable lines through pino-pretty with LOG_PRETTY=1, JSON otherwise", async () => {
    stack = await createTestStack();
    const pretty = await startApi({ ...stack.env, LOG_PRETTY: "1" });
    try {
      await waitFor(() => /INFO.*api listening/.test(pretty.logs()), { timeoutMs: 10_000, what: "a pretty 'api listening' line" });
      expect(pretty.logs()).not.toContain('"msg":"api listening"');
    } finally {
      await pretty.stop();
    }
    const json = await stack.startApi();
    await waitFor(() => json.logs().includes('"msg":"api listening"'), { timeoutMs: 10_000, what: "a JSON 'api listening' line" });
  });
});
