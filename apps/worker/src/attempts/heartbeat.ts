// While an attempt runs it refreshes heartbeat_at, so a reconciler can tell a live attempt from
// one whose worker died. A heartbeat that matches no row means the attempt lost the job (a newer
// attempt claimed it, or it was reset): the attempt is told to stop. The same statement reads
// cancel_requested_at: once a cancel is requested the attempt is told to cancel itself.
import type { Db } from "@capy/db";
import { type Attempt, beat } from "@capy/jobs";
import type { Logger } from "../logger.js";

export interface HeartbeatOptions {
  /** Between heartbeats (ms). */
  intervalMs: number;
  /** Called once if the attempt turns out to no longer own the job. */
  onLost: () => void;
  /** Called once when the job's cancel has been requested. */
  onCancel?: () => void;
  log: Logger;
}

/** Starts heartbeating; call the returned function to stop. */
export function startHeartbeat(db: Db, attempt: Pick<Attempt, "jobId" | "fencingToken">, { intervalMs, onLost, onCancel, log }: HeartbeatOptions): () => void {
  let stopped = false;
  let canceled = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const state = await beat(db, attempt);
      if (state === "lost") {
        log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; stopping it");
        stopped = true;
        onLost();
        return;
      }
      if (state === "cancel" && !canceled) {
        canceled = true;
        log.warn({ fencing_token: attempt.fencingToken }, "cancel requested; stopping the attempt");
        onCancel?.();
      }
    } catch (error) {
      // The database may be briefly unreachable; the next beat tries again, and a heartbeat that
      // stays stale past JOB_HEARTBEAT_TIMEOUT_MS lets the reconciler reset the job.
      log.warn({ err: error instanceof Error ? error.message : String(error) }, "heartbeat failed");
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
