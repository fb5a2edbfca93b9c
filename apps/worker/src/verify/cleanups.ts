// What a verification leaves to undo (its throwaway database, its temporary archive, its slot),
// run by the caller once the verdict is recorded: the job completes without waiting for a DROP
// DATABASE (0.5-4.6 s measured: PostgreSQL 15 checkpoints the whole cluster on DROP), and a
// verification that fails, times out or loses its job still undoes everything. A worker killed
// before running them leaves the database to the janitor (janitor.ts).
import type { Logger } from "../logger.js";

export class Cleanups {
  private readonly steps: Array<{ what: string; run: () => Promise<void> }> = [];

  constructor(private readonly log: Logger) {}

  /** `run` is run by run(), after every step deferred later (last in, first out). */
  defer(what: string, run: () => Promise<void>): void {
    this.steps.push({ what, run });
  }

  /** Runs every deferred step once; a failing step is logged and the rest still run. */
  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (error) {
        this.log.error({ err: error }, `verification cleanup failed: ${step.what}`);
      }
    }
  }
}
