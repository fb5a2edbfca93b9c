// Groups concurrent firings into one fireSchedules call: when thousands of schedules share a
// minute, BullMQ hands this process up to SCHEDULE_FIRE_CONCURRENCY firings at once, and one
// SQL statement for all of them beats one per firing by an order of magnitude.
import type { FireResult } from "./fire.js";

export interface FireBatcherOptions {
  /** Fires a batch (fireSchedules). */
  fire(ids: string[]): Promise<Map<string, FireResult>>;
  /** Largest batch. */
  maxBatch: number;
  /** How long the first firing of a batch waits for others to join it (ms). */
  lingerMs: number;
}

export class FireBatcher {
  private pending: Array<{ id: string; resolve(result: FireResult): void; reject(error: unknown): void }> = [];
  private timer: NodeJS.Timeout | undefined;

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
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    this.options.fire(batch.map((b) => b.id)).then(
      (results) => batch.forEach((b) => b.resolve(results.get(b.id)!)),
      // The whole batch failed (e.g. Postgres unreachable): every firing fails and BullMQ retries it.
      (error: unknown) => batch.forEach((b) => b.reject(error)),
    );
  }
}
