// Real API and worker processes, started from their built entry points exactly as
// `pnpm start:api` / `pnpm start:worker` run them, with their logs captured for assertions.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "./wait.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * A node entry point of this repository (path relative to its root), run from the root. `args`
 * follow the entry; `nodeArgs` are options for node itself, before the entry (e.g. --cpu-prof,
 * refused in NODE_OPTIONS).
 */
export function startProcess(entry: string, env: NodeJS.ProcessEnv, args: string[] = [], nodeArgs: string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, entry), ...args], {
    cwd: REPO_ROOT,
    // JSON logs (the helpers read them) and a free metrics port per worker, unless a test says otherwise.
    env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "info", LOG_PRETTY: "0", WORKER_METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return {
    child,
    logs: () => output,
    exited,
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

/** Runs an entry point to its exit (SIGKILL after `timeoutMs`): its exit code and everything it printed. */
export async function runToExit(
  entry: string,
  env: NodeJS.ProcessEnv,
  { args = [], timeoutMs = 30_000 }: { args?: string[]; timeoutMs?: number } = {},
): Promise<{ code: number | string; output: string }> {
  const service = startProcess(entry, env, args);
  const timer = setTimeout(() => service.child.kill("SIGKILL"), timeoutMs);
  try {
    return { code: await service.exited, output: service.logs() };
  } finally {
    clearTimeout(timer);
  }
}

export interface ApiProcess extends ServiceProcess {
  baseUrl: string;
  port: number;
}

/** Attempts at a free port: another process (a worker's metrics server on port 0) may take the one found before the API binds it. */
const API_PORT_ATTEMPTS = 3;

export async function startApi(env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ApiProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const service = startProcess("apps/api/dist/main.js", { ...env, PORT: String(port), HOST: "127.0.0.1" }, [], nodeArgs);
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      await untilApiAnswers(service, baseUrl);
    } catch (error) {
      await service.stop("SIGKILL");
      if (attempt < API_PORT_ATTEMPTS && service.logs().includes("EADDRINUSE")) continue;
      throw new Error(`${(error as Error).message}\n${service.logs()}`);
    }
    return await ready(reportingUnexpectedExit(service), baseUrl, port);
  }
}

/** Bytes of an API's last output printed when it ends on its own. */
const EXIT_REPORT_BYTES = 8_000;

/**
 * An API that ends before stop() asked it to says so on the test run's stderr, with its last
 * output: a test that then fails with ECONNREFUSED is explained by what the API printed last
 * (a crash, a fatal log line), not left to guesswork.
 */
function reportingUnexpectedExit(service: ServiceProcess): ServiceProcess {
  let stopping = false;
  void service.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`\nthe API (pid ${service.child.pid}) ended on its own (${code}); its last output:\n${service.logs().slice(-EXIT_REPORT_BYTES)}\n`);
  });
  return {
    ...service,
    stop(signal, graceMs) {
      stopping = true;
      return service.stop(signal, graceMs);
    },
  };
}

/**
 * Until /healthz answers on the port with the API's x-request-id: a /healthz from another
 * server that took the port (a worker's metrics server has one, without that header) must not
 * pass for the API.
 */
async function untilApiAnswers(service: ServiceProcess, baseUrl: string): Promise<void> {
  await waitFor(
    async () => {
      if (service.child.exitCode !== null) throw new Error("api exited early");
      const response = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
      return response?.ok && response.headers.has("x-request-id");
    },
    { timeoutMs: 30_000, what: "the API to answer /healthz" },
  );
}

async function ready(service: ServiceProcess, baseUrl: string, port: number): Promise<ApiProcess> {
  // Give its connections a moment to come up (/readyz: Postgres and Redis answer), so a test's
  // first requests meet a fully connected API; tests that start it without a reachable Redis
  // on purpose just wait out this short deadline.
  await waitFor(async () => (await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 5_000, what: "readiness" }).catch(() => {});
  return { ...service, baseUrl, port };
}

export async function startWorker(env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  const service = startProcess("apps/worker/dist/main.js", env);
  // An exit ends the wait at once (waitFor would keep polling a throwing probe to its deadline).
  const outcome = await waitFor(() => (service.child.exitCode !== null ? "exited" : service.logs().includes('"msg":"worker ready"') && "ready"), {
    timeoutMs: 30_000,
    what: "the worker to log ready",
  }).catch(async (error: Error) => {
    await service.stop("SIGKILL");
    throw new Error(`${error.message}\n${service.logs()}`);
  });
  if (outcome === "exited") throw new Error(`worker exited early:\n${service.logs()}`);
  return service;
}
