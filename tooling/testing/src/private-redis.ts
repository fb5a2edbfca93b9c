// A private redis-server on a free port, for tests that flush or stop Redis: never the shared
// server. No persistence (--save "" --appendonly no), so a stop loses everything, like a flush.
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freePort, waitFor } from "./wait.js";

export interface PrivateRedis {
  url: string;
  port: number;
  /** Deletes every key (FLUSHALL) on this private server. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${port}/0`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  admin.on("error", () => {});
  await waitFor(async () => (await admin.ping().catch(() => undefined)) === "PONG", { timeoutMs: 10_000, what: "the private redis-server" });
  return {
    url,
    port,
    async flush() {
      await admin.flushall();
    },
    async stop() {
      admin.disconnect();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
