// A throwaway redis-server of a test's own, for tests that restart, flush or misconfigure Redis:
// those must never touch the shared server. It listens on 127.0.0.1 at a free port, persists
// nothing, and is killed by stop() and at process exit. restart() stops it and starts a new one
// on the same port (empty: nothing is persisted).
import { type ChildProcess, spawn } from "node:child_process";
import { Redis } from "ioredis";
import { freePort, waitFor } from "./wait.js";

export interface PrivateRedis {
  /** redis://127.0.0.1:<port>/0 */
  url: string;
  port: number;
  /** Kills the server and starts a fresh one on the same port. */
  restart(): Promise<void>;
  /** Kills the server (the port stops answering) without starting another. */
  kill(): Promise<void>;
  /** Starts the server again after kill(). */
  start(): Promise<void>;
  /** Deletes every key (FLUSHALL) on this private server. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** `extraArgs`: more redis-server options, e.g. ["--maxmemory-policy", "allkeys-lru"]. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}/0`;
  let child: ChildProcess | undefined;
  const killSync = () => child?.kill("SIGKILL");
  process.once("exit", killSync);

  const start = async () => {
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = server;
    let output = "";
    server.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      async () => {
        if (server.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
        const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        probe.on("error", () => {});
        try {
          await probe.connect();
          return (await probe.ping()) === "PONG";
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `redis-server on port ${port}` },
    );
  };
  const kill = async () => {
    const server = child;
    child = undefined;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGKILL");
    await exited;
  };

  try {
    await start();
  } catch (error) {
    await kill();
    process.removeListener("exit", killSync);
    throw error;
  }
  return {
    url,
    port,
    async restart() {
      await kill();
      await start();
    },
    kill,
    start,
    async flush() {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      admin.on("error", () => {});
      try {
        await admin.flushall();
      } finally {
        admin.disconnect();
      }
    },
    async stop() {
      await kill();
      process.removeListener("exit", killSync);
    },
  };
}
