// The BullMQ enqueue of a job whose row is committed, which the request's answer does not wait
// for. The row is the job (Postgres is the source of truth) and the answer is the same whether
// Redis accepts the job or not (when it does not, the job stays `pending` and the reconciler
// enqueues it), so waiting for Redis's reply only held every POST for one more round trip:
// answering without it ran POST …/backups at 12.3-14.9 % of bare Fastify against 10.8-12.8 % in
// five alternated pairs (bench/api-throughput, README). The enqueue is sent in the same turn as
// the answer, so a worker can start the job as soon as before.
import type { Job } from "@capy/db";
import { enqueueJob } from "@capy/jobs";
import { type BackupQueue, withTimeout } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";

/** How long an enqueue may take before the job is left to the reconciler (ms). */
const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * Enqueues in flight beyond which a request waits for its own: Redis has fallen far behind (it
 * answers an add in well under a millisecond), so requests slow down with it instead of piling
 * up adds in memory.
 */
const MAX_IN_FLIGHT = 1_000;

type EnqueuedJob = Pick<Job, "id" | "type">;

export class BackgroundEnqueues {
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: BackupQueue,
    private readonly maxInFlight = MAX_IN_FLIGHT,
  ) {}

  /** Enqueues started and not yet finished. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Starts enqueueing `job` (whose row is committed). Resolves at once, or once this enqueue is
   * done when `maxInFlight` others are still in flight. Never rejects: a failure is logged on `log`.
   */
  start(job: EnqueuedJob, log: FastifyBaseLogger): Promise<void> {
    const done = this.enqueue(job, log).finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
    return this.#inFlight.size > this.maxInFlight ? done : Promise.resolve();
  }

  /** Resolves once every enqueue started so far has finished (shutdown: before Redis closes). */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  private async enqueue(job: EnqueuedJob, log: FastifyBaseLogger): Promise<void> {
    try {
      await withTimeout(enqueueJob(this.queue, job), ENQUEUE_TIMEOUT_MS, "enqueue");
    } catch (err) {
      log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
    }
  }
}
