// What BullMQ holds for jobs that are not terminal when a chaos run's deadline passes, read
// straight from Redis before teardown, so a stuck job says why it is stuck: its state by list
// membership, the job hash's bookkeeping fields, its lock's TTL, its delayed score against now,
// and the leases (database lock, dump slot) that would make it wait. Raw commands rather than
// BullMQ: this package does not depend on it, and it must not change anything it reads.
import { Redis } from "ioredis";

/** BullMQ's queue name for backup jobs (@capy/contracts BACKUP_QUEUE). */
const BACKUP_QUEUE = "capy-backups";

export interface StuckJobRow {
  id: string;
  lockedResource: string | null;
  clusterId: string | null;
}

/** A compact one-line description per job id. */
export async function describeQueueStates(redisUrl: string, prefix: string, jobs: readonly StuckJobRow[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (jobs.length === 0) return out;
  // Fails fast: the run is over, and a dead Redis is itself the answer.
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 2_000 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    const q = (suffix: string) => `${prefix}:${BACKUP_QUEUE}:${suffix}`;
    const [seconds, micros] = await redis.time();
    const nowMs = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    for (const job of jobs) {
      const p = redis.pipeline();
      p.hmget(q(job.id), "name", "timestamp", "processedOn", "finishedOn", "atm", "ats", "stc", "delay", "defa", "failedReason");
      p.pttl(`${q(job.id)}:lock`);
      p.lpos(q("wait"), job.id);
      p.lpos(q("active"), job.id);
      p.lpos(q("paused"), job.id);
      p.zscore(q("delayed"), job.id);
      p.zscore(q("prioritized"), job.id);
      p.zscore(q("completed"), job.id);
      p.zscore(q("failed"), job.id);
      p.sismember(q("stalled"), job.id);
      p.pttl(q("stalled-check"));
      p.zrange(q("marker"), "0", "-1", "WITHSCORES");
      for (const resource of [job.lockedResource, job.clusterId && `dump:${job.clusterId}`]) {
        if (resource) p.zrange(`${prefix}:lease:${resource}`, "0", "-1", "WITHSCORES");
      }
      const replies = ((await p.exec()) ?? []).map(([error, value]) => (error ? `ERR ${error.message}` : value));
      const [hash, lockTtl, inWait, inActive, inPaused, delayed, prioritized, completed, failed, stalled, stalledCheckTtl, marker, ...leases] = replies as [
        Array<string | null>,
        number,
        number | null,
        number | null,
        number | null,
        string | null,
        string | null,
        string | null,
        string | null,
        number,
        number,
        string[],
        ...string[][],
      ];
      const [name, timestamp, processedOn, finishedOn, atm, ats, stc, delay, defa, failedReason] = hash ?? [];
      const lists = [
        inWait !== null ? "wait" : "",
        inActive !== null ? "active" : "",
        inPaused !== null ? "paused" : "",
        // BullMQ's delayed score: (timestamp ms) * 0x1000 + a counter.
        delayed !== null ? `delayed(due ${Math.round(Number(delayed) / 0x1000 - nowMs)} ms from now)` : "",
        prioritized !== null ? "prioritized" : "",
        completed !== null ? "completed" : "",
        failed !== null ? "failed" : "",
      ].filter(Boolean);
      const age = (ms: string | null | undefined) => (ms ? `${Math.round((nowMs - Number(ms)) / 1_000)} s ago` : "-");
      const hashText =
        name === null || name === undefined
          ? "no job hash"
          : `hash: created ${age(timestamp)}, processedOn ${age(processedOn)}, finishedOn ${age(finishedOn)}, atm ${atm ?? "-"}, ats ${ats ?? "-"}, stc ${stc ?? "-"}, delay ${delay ?? "-"}${defa ? `, defa "${defa}"` : ""}${failedReason ? `, failedReason "${failedReason.slice(0, 60)}"` : ""}`;
      const leaseText = leases
        .map((holders) =>
          Array.isArray(holders)
            ? holders
                .filter((_, i) => i % 2 === 0)
                .map((h, i) => `${h} (${Math.round((Number(holders[i * 2 + 1]) - nowMs) / 1_000)} s left)`)
                .join(", ")
            : String(holders),
        )
        .map((text) => text || "none")
        .join(" | ");
      out.set(
        job.id,
        `[redis: in ${lists.length ? lists.join("+") : "NO LIST"}; ${hashText}; lock TTL ${lockTtl} ms; in stalled set ${stalled === 1}; stalled-check TTL ${stalledCheckTtl} ms; marker ${JSON.stringify(marker)}; leases (database | dump slot): ${leaseText}]`,
      );
    }
  } catch (error) {
    for (const job of jobs) if (!out.has(job.id)) out.set(job.id, `[redis state unreadable: ${(error as Error).message}]`);
  } finally {
    redis.disconnect();
  }
  return out;
}
