// The Redis leases an attempt holds, both "wait, never reject" (design: Locks and caps): the
// job's locked_resource with capacity 1 (one job per database at a time) and, for backup jobs,
// a dump slot `dump:<cluster_id>` with capacity DUMP_CONCURRENCY_PER_CLUSTER (no thundering herd
// on a cluster). They are taken BEFORE the job row is claimed; if either is taken, the caller
// puts the job back in the queue (delayed) without using an attempt. While the attempt runs the
// leases are renewed every leaseMs/3; a renewal refused because another holder took the permit
// after ours expired (we were paused, or Redis lost the key and someone else got in) stops the
// attempt. The dump slot is given back as soon as pg_dump has ended, the database lock at the end.
import { randomUUID } from "node:crypto";
import type { LeaseSemaphore } from "@capy/queue";
import { LeaseLostError, ResourceBusyError } from "../failures/errors.js";
import type { Logger } from "../logger.js";

export interface LeaseRequest {
  /** (resource, capacity) pairs, taken in this order. */
  resources: ReadonlyArray<{ resource: string; capacity: number }>;
  /** Names the holder: `<workerId>/<jobId>/<random>` (unique per attempt, even within one worker). */
  workerId: string;
  jobId: string;
  /** Lease length (ms); a holder that stops renewing loses its permit this long after its last renewal. */
  leaseMs: number;
  log: Logger;
  /** Called after a lease was given back (to wake a job waiting for it). Must not throw. */
  onReleased?: (resource: string) => Promise<void>;
}

export interface HeldLeases {
  /** Called once when a renewal finds another holder in our place. */
  onLost(listener: (error: LeaseLostError) => void): void;
  /** Gives one lease back early (the dump slot once pg_dump has ended). Idempotent. */
  release(resource: string): Promise<void>;
  /** Gives every lease still held back and stops renewing. Idempotent. */
  releaseAll(): Promise<void>;
}

/** Dump slot resource of a cluster. */
export function dumpSlotResource(clusterId: string): string {
  return `dump:${clusterId}`;
}

/**
 * Takes every lease or none: resolves with the held leases, or rejects with ResourceBusyError
 * naming the first one that is taken (after giving back those already acquired).
 */
export async function acquireLeases(semaphore: LeaseSemaphore, request: LeaseRequest): Promise<HeldLeases> {
  const holder = `${request.workerId}/${request.jobId}/${randomUUID().slice(0, 8)}`;
  const held = new Map<string, number>();
  const giveBack = (resource: string) =>
    semaphore
      .release(resource, holder)
      .catch((error: unknown) =>
        request.log.warn({ err: error instanceof Error ? error.message : String(error), resource }, "could not release a lease; it expires on its own"),
      );
  for (const { resource, capacity } of request.resources) {
    let acquired = false;
    try {
      acquired = await semaphore.acquire(resource, holder, capacity, request.leaseMs);
    } catch (error) {
      await Promise.all([...held.keys()].map(giveBack));
      throw error;
    }
    if (!acquired) {
      await Promise.all([...held.keys()].map(giveBack));
      throw new ResourceBusyError(resource);
    }
    held.set(resource, capacity);
  }

  const listeners: Array<(error: LeaseLostError) => void> = [];
  let lost: LeaseLostError | undefined;
  let stopped = false;
  const renew = async () => {
    for (const [resource, capacity] of held) {
      try {
        if (!(await semaphore.acquire(resource, holder, capacity, request.leaseMs)) && !stopped && held.has(resource) && !lost) {
          lost = new LeaseLostError(resource);
          request.log.error({ resource }, "lease lost to another holder; stopping the attempt");
          for (const listener of listeners) listener(lost);
        }
      } catch (error) {
        // Redis briefly unreachable: the next renewal tries again; the lease is long enough.
        request.log.warn({ err: error instanceof Error ? error.message : String(error), resource }, "could not renew a lease");
      }
    }
  };
  // Three renewals per lease length: one missed renewal never loses the lease.
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(request.leaseMs / 3)));
  timer.unref();

  return {
    onLost(listener) {
      if (lost) listener(lost);
      else listeners.push(listener);
    },
    async release(resource) {
      if (!held.delete(resource)) return;
      await giveBack(resource);
      await request.onReleased?.(resource);
    },
    async releaseAll() {
      stopped = true;
      clearInterval(timer);
      const resources = [...held.keys()];
      held.clear();
      await Promise.all(resources.map(giveBack));
      await Promise.all(resources.map((resource) => request.onReleased?.(resource)));
    },
  };
}
