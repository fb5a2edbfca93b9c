// Jobs waiting for a lease (a database lock or a cluster's dump slot) sleep in BullMQ's delayed
// set; this queue of waiters per resource lets whoever gives a lease back wake the longest
// waiter at once, instead of every waiter polling. Without it, waiters retry blindly with a
// growing delay: a freed resource sits idle until someone's timer fires, newer jobs overtake old
// ones, and thousands of waiting jobs (a schedule storm capped at two dumps per cluster) poll
// the queue and Postgres non-stop.
//
// The waiter set is a hint, never the truth: a woken job still has to win the lease, a job woken
// while it was not delayed (finished, canceled, or between its failed try and its move to the
// delayed set) is skipped, and every waiter keeps a delayed retry of its own as a safety net.

import { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { BackupQueue } from "./backup-queue.js";

/** Waiters looked at per wake-up before giving up (stale entries are dropped on the way). */
const MAX_POPS_PER_WAKE = 20;

export class LeaseWaiters {
  constructor(
    private readonly redis: Redis,
    private readonly queue: BackupQueue,
    /** Key prefix (the deployment's CAPY_REDIS_PREFIX). */
    private readonly prefix: string,
  ) {}

  private key(resource: string): string {
    return `${this.prefix}:lease-waiters:${resource}`;
  }

  /** Records `jobId` as waiting for `resource`; its first wait's time orders it (ms since epoch). */
  async wait(resource: string, jobId: string): Promise<void> {
    await this.redis.zadd(this.key(resource), "NX", Date.now(), jobId);
  }

  /** The job got its leases: it waits for nothing any more. */
  async stopWaiting(resources: readonly string[], jobId: string): Promise<void> {
    await Promise.all(resources.map((resource) => this.redis.zrem(this.key(resource), jobId)));
  }

  /**
   * Promotes the longest waiter for `resource` that is still delayed (it runs now and tries the
   * lease); returns its id, or null when nobody was waiting.
   */
  async wakeOne(resource: string): Promise<string | null> {
    const racing: Array<[number, string]> = [];
    try {
      for (let pops = 0; pops < MAX_POPS_PER_WAKE; pops++) {
        const [jobId, score] = await this.redis.zpopmin(this.key(resource));
        if (!jobId) return null;
        const job = await Job.fromId(this.queue, jobId);
        if (!job) continue;
        try {
          await job.promote();
          return jobId;
        } catch {
          // Not delayed. Running: it may be between its failed try and its move to the delayed
          // set, so it keeps its place for the next wake-up. Otherwise (finished) it is dropped.
          if (await job.isActive()) racing.push([Number(score), jobId]);
        }
      }
      return null;
    } finally {
      if (racing.length > 0) await this.redis.zadd(this.key(resource), "NX", ...racing.flat());
    }
  }
}
