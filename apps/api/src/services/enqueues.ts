// The BullMQ enqueue of a job whose row is committed, which the request's answer does not wait
// for. The row is the job (Postgres is the source of truth) and the answer is the same whether
// Redis accepts the job or not (when it does not, the job stays `pending` and the workers'
// reconciler enqueues it), so waiting for Redis's reply only held every POST for one more round
// trip (README, API throughput: POST …/backups ran ~2 points of bare Fastify faster without it).
// The enqueue leaves in the same turn as the answer, so a worker can start the job as soon as before.
import type { Job } from "@capy/db";
import { enqueueJob } from "@capy/jobs";
import { type BackupQueue, withTimeout } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";

type EnqueuedJob = Pick<Job, "id" | "type">;

export interface EnqueueLimits {
  /**
   * How long an enqueue may take before it is reported failed and left to the reconciler (ms).
   * Below the reconciler's grace for new pending rows (PENDING_GRACE_MS, 5 s), so the reconciler
   * does not add jobs the API is still adding (harmless, BullMQ keeps one job per id, but wasted).
   */
  timeoutMs: number;
  /**
   * Adds Redis has not answered beyond which a request waits for its own enqueue (up to
   * timeoutMs), as every request did before: Redis has fallen far behind, and requests slow down
   * with it instead of queueing adds in memory. 1,000 is ~0.3 s of POSTs at the bench's rate;
   * Redis answers an add in well under a millisecond.
   */
  maxInFlight: number;
}

const DEFAULT_LIMITS: EnqueueLimits = { timeoutMs: 2_000, maxInFlight: 1_000 };

export class BackgroundEnqueues {
  /** One promise per add Redis has not answered, settled (never rejected) when it does or the connection fails. */
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly queue: BackupQueue,
    private readonly limits = DEFAULT_LIMITS,
  ) {}

  /**
   * Starts enqueueing `job` (whose row is committed). Resolves at once, or, when `maxInFlight`
   * other adds are unanswered, once this one is done or timed out. Never rejects: a failure is
   * logged on `log`.
   */
  start(job: EnqueuedJob, log: FastifyBaseLogger): Promise<void> {
    const added = enqueueJob(this.queue, job);
    // Counted until Redis answers, not until the timeout: an add that timed out still waits in the connection.
    const answered = added.catch(() => {}).finally(() => this.#inFlight.delete(answered));
    this.#inFlight.add(answered);
    const reported = withTimeout(added, this.limits.timeoutMs, "enqueue").catch((err: unknown) => {
      log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
    });
    return this.#inFlight.size > this.limits.maxInFlight ? reported : Promise.resolve();
  }

  /**
   * Waits for the adds in flight to be answered, at most timeoutMs (shutdown: before Redis
   * closes; a hung Redis must not hold the shutdown, and what it never took stays pending).
   */
  async drain(): Promise<void> {
    await withTimeout(Promise.all(this.#inFlight), this.limits.timeoutMs, "drain").catch(() => {});
  }
}
