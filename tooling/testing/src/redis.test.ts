// A test's Redis cleanup against a Redis that does not answer (a freePort: nothing listens there)
// fails, and leaves nothing behind that keeps the process alive (a client left reconnecting would
// hang the test run, or a bench, after its error instead of ending it).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { freePort } from "./wait.js";

describe("createTestRedis", () => {
  it("cleanup rejects when Redis does not answer, and the process still exits", async () => {
    const dist = new URL("../dist/redis.js", import.meta.url).href;
    const script = `import { createTestRedis } from ${JSON.stringify(dist)};
await createTestRedis().cleanup().then(() => console.log("resolved"), (error) => console.log("rejected:", error.message));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      env: { ...process.env, TEST_REDIS_URL: `redis://127.0.0.1:${await freePort()}/0` },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    // The deadline (ms) of an exit that needs nothing but the rejection: a client left
    // reconnecting every few hundred ms would keep the process alive forever.
    const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const [code, signal] = await once(child, "exit");
    clearTimeout(deadline);
    expect(out).toMatch(/^rejected: /);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
