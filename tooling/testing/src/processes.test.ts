// An API process that ends on its own (a crash, a kill from outside) is reported on the test
// run's stderr with its last output; one stopped through stop() is not.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestStack, type TestStack } from "./stack.js";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("startApi", () => {
  it("reports an API that ended on its own, with its last output, and stays quiet about one stopped", async () => {
    // Swallowed: the report holds the API's whole start-up log.
    const written = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const crashed = await stack.startApi();
      process.kill(crashed.child.pid!, "SIGKILL");
      await crashed.exited;
      const stopped = await stack.startApi();
      await stopped.stop();
      const reports = written.mock.calls.map(([chunk]) => String(chunk)).filter((chunk) => chunk.includes("ended on its own"));
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain(`the API (pid ${crashed.child.pid}) ended on its own (SIGKILL); its last output:`);
      expect(reports[0]).toContain('"msg":"api listening"');
    } finally {
      written.mockRestore();
    }
  });
});
