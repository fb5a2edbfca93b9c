// The loop every maintenance pass shares: run now, then `intervalMs` after each run ends, until
// stopped. Runs never overlap, and the timer does not keep the process alive.

export interface Periodic {
  /** Settles when the run in progress (if any) has. */
  idle(): Promise<void>;
  /** No further runs; resolves once the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

/** `run` must not throw: it logs its own failures (the next run is the retry). */
export function runPeriodically(run: () => Promise<void>, intervalMs: number): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  running = run().finally(schedule);
  return {
    idle: () => running,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
