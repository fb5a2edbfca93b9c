// Graceful shutdown on SIGTERM/SIGINT: stop taking jobs, give running ones the grace period,
// then stop them (their jobs go back to the queue), kill any child left, close connections and
// exit. A second signal skips the rest of the grace period.
import type { Logger } from "./logger.js";

export interface ShutdownSteps {
  /** Stop taking jobs; resolves once the running ones have finished (worker.close()). */
  drain(): Promise<void>;
  /** Ask running jobs to stop now (their handlers stop their children and requeue the job). */
  interrupt(): void;
  /** Kill every child process still alive: nothing may outlive the worker. */
  killChildren(): void;
  /** Close Postgres and Redis. */
  release(): Promise<void>;
}

export interface ShutdownOptions {
  /** How long running jobs may continue after the signal (ms). */
  graceMs: number;
  log: Logger;
  exit: (code: number) => void;
  /** How long interrupted jobs get to stop and record themselves (ms). */
  interruptWaitMs?: number;
  /** How long closing connections may take (ms). */
  releaseWaitMs?: number;
}

export interface Shutdown {
  /** Starts shutting down (or, if already shutting down, interrupts running jobs now). */
  begin(reason: string): Promise<void>;
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createShutdown(steps: ShutdownSteps, options: ShutdownOptions): Shutdown {
  const { graceMs, log, exit, interruptWaitMs = 15_000, releaseWaitMs = 5_000 } = options;
  let running: Promise<void> | undefined;

  const interrupt = () => {
    log.warn("stopping running jobs");
    steps.interrupt();
  };

  async function shutdown(reason: string): Promise<void> {
    log.info({ reason, grace_ms: graceMs }, "shutting down: taking no new jobs");
    let exitCode = 0;
    const drained = steps.drain();
    if (!(await settlesWithin(drained, graceMs))) {
      interrupt();
      if (!(await settlesWithin(drained, interruptWaitMs))) {
        log.error({ wait_ms: interruptWaitMs }, "running jobs did not stop in time");
        exitCode = 1;
      }
    }
    steps.killChildren();
    if (!(await settlesWithin(steps.release(), releaseWaitMs))) log.warn("connections did not close in time");
    log.info({ exit_code: exitCode }, "worker stopped");
    exit(exitCode);
  }

  return {
    begin(reason) {
      if (running) {
        log.warn({ reason }, "second signal: not waiting for the grace period");
        interrupt();
        return running;
      }
      running = shutdown(reason);
      return running;
    },
  };
}
