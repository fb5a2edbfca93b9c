// The chaos run's private redis-server (internal to chaos/; faults-api adds an equivalent public
// startPrivateRedis, which this can give way to after the merge): a child process on a free port,
// with no persistence (`--save "" --appendonly no`), so a restart loses every key exactly as a
// crashed cache node without persistence would. The shared Redis is never touched.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort, waitFor } from "../wait.js";

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILLs the server and starts a new, empty one on the same port; resolves once it answers PING. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** How long redis-server may take to answer PING after a start (ms). */
const START_DEADLINE_MS = 15_000;

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  // Its working directory, so nothing (a stray dump.rdb) lands in the repository.
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-redis-"));
  const url = `redis://127.0.0.1:${port}/0`;
  let child: ChildProcess | undefined;
  let output = "";

  const launch = async () => {
    output = "";
    const started = spawn(
      "redis-server",
      // noeviction: queue keys must never be evicted (the API and worker check this policy).
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    started.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    started.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child = started;
    await waitFor(
      async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited ${started.exitCode}: ${output}`);
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on("error", () => {}); // a refused connection also rejects connect(), which is what counts
        try {
          await probe.connect();
          return (await probe.ping()) === "PONG";
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: START_DEADLINE_MS, intervalMs: 50, what: `redis-server on port ${port}` },
    );
  };

  const kill = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once("exit", resolve));
    current.kill(signal);
    await exited;
  };

  const onExit = () => child?.kill("SIGKILL");
  process.once("exit", onExit);
  await launch();
  return {
    url,
    port,
    async restart() {
      await kill("SIGKILL");
      await launch();
    },
    async stop() {
      process.removeListener("exit", onExit);
      await kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
