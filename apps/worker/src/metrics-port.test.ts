// Several workers on one host: the default metrics port is taken by the first, so a second one
// without WORKER_METRICS_PORT takes a free port (and logs it) and still works; one whose
// explicitly configured port is taken refuses to start, saying why.
import { createServer, type Server } from "node:net";
import { freePort } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_METRICS_PORT } from "./metrics.js";
import { createHarness, type Harness } from "./test-helpers.js";

/** Holds `port` on all addresses; undefined when someone else holds it already (it is taken either way). */
async function occupy(port: number): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve(undefined) : reject(error)));
    server.listen(port, "0.0.0.0", () => resolve(server));
  });
}

const readyLine = (logs: string) =>
  logs
    .split("\n")
    .filter((line) => line.includes('"msg":"worker ready"'))
    .map((line) => JSON.parse(line) as { metrics_port: number })[0];

describe("the metrics port of a second worker on the host", () => {
  let harness: Harness;
  const blockers: Server[] = [];

  beforeAll(async () => {
    harness = await createHarness();
  });
  afterAll(async () => {
    await harness?.close();
    await Promise.all(blockers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("takes a free port and logs it when WORKER_METRICS_PORT is unset", async () => {
    const blocker = await occupy(DEFAULT_METRICS_PORT);
    if (blocker) blockers.push(blocker);
    // Empty counts as unset (the test processes get WORKER_METRICS_PORT=0 otherwise).
    const worker = await harness.stack.startWorker({ WORKER_METRICS_PORT: "" });
    const port = readyLine(worker.logs())!.metrics_port;
    expect(port).not.toBe(DEFAULT_METRICS_PORT);
    expect(worker.logs()).toContain(
      `metrics port ${DEFAULT_METRICS_PORT} is taken (another worker on this host?); serving /metrics, /healthz and /readyz on ${port}`,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
  });

  it("refuses to start, naming the setting, when the configured port is taken", async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    blockers.push(blocker!);
    const failure = await harness.stack.startWorker({ WORKER_METRICS_PORT: String(port) }).then(
      () => new Error("the worker started"),
      (error: Error) => error,
    );
    expect(failure.message).toContain("worker exited early");
    expect(failure.message).toContain(
      `WORKER_METRICS_PORT ${port} is already in use on 0.0.0.0 (another worker on this host?): give each worker its own port, or leave WORKER_METRICS_PORT unset to take a free one`,
    );
  });
});
