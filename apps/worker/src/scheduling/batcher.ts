// Groups concurrent firings into one fireSchedules call: when thousands of schedules share a
// minute, BullMQ hands this process up to SCHEDULE_FIRE_CONCURRENCY firings at once, and one
// SQL statement for all of them beats one per firing by an order of magnitude. At most
// `maxInFlight` statements run at once; firings that arrive meanwhile wait and form the next,
// larger batch (so a busy database gets fewer, bigger statements, never a pile of small ones
// queueing for pool connections until they time out).
import type { FireResult } from "./fire.js";

export interface FireBatcherOptions {
  /** Fires a batch (fireSchedules). */
  fire(ids: string[]): Promise<Map<string, FireResult>>;
  /** Largest batch. */
  maxBatch: number;
  /** How long the first firing of a batch waits for others to join it (ms). */
  lingerMs: number;
  /** Batches in flight at once (keep it below the database pool size). */
  maxInFlight: number;
}

interface Waiting {
  id: string;
  resolve(result: FireResult): void;
  reject(error: unknown): void;
}

export class FireBatcher {
  private pending: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(private readonly options: FireBatcherOptions) {}

  submit(id: string): Promise<FireResult> {
    return new Promise<FireResult>((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      if (this.pending.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Full: the batch in flight calls flush again when it ends.
    if (this.inFlight >= this.options.maxInFlight || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.options.maxBatch);
    this.inFlight++;
    this.options
      .fire(batch.map((b) => b.id))
      .then(
        (results) => {
          for (const b of batch) b.resolve(results.get(b.id)!);
        },
        // The whole batch failed (e.g. Postgres unreachable): every firing fails and BullMQ retries it.
        (error: unknown) => {
          for (const b of batch) b.reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.flush();
      });
  }
}
