// While an attempt runs it refreshes heartbeat_at, so a reconciler can tell a live attempt from
// one whose worker died. A heartbeat that matches no row means the attempt lost the job (a newer
// attempt claimed it, or it was canceled): the attempt is told to stop.
import type { Db } from "@capy/db";
import type { Logger } from "../logger.js";
import { touchHeartbeat, type Attempt } from "./attempt.js";

export interface HeartbeatOptions {
  /** Between heartbeats (ms). */
  intervalMs: number;
  /** Called once if the attempt turns out to no longer own the job. */
  onLost: () => void;
  log: Logger;
}

/** Starts heartbeating; call the returned function to stop. */
export function startHeartbeat(db: Db, attempt: Attempt, { intervalMs, onLost, log }: HeartbeatOptions): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    try {
      if (!(await touchHeartbeat(db, attempt))) {
        log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; stopping it");
        stopped = true;
        onLost();
        return;
      }
    } catch (error) {
      // The database may be briefly unreachable; the attempt itself decides whether that matters.
      log.warn({ err: error }, "heartbeat failed");
    }
    if (!stopped) timer = setTimeout(beat, intervalMs);
  };
  timer = setTimeout(beat, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
