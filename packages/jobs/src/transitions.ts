// The job state machine, as data: which transition may take a job from which state to which. Every
// statement that changes a job's state (attempt.ts, cancel.ts, lost.ts) takes its WHERE clause's
// states from this table (fromStates), so the table is the code's own source of truth; the test
// beside it walks every cell (state × transition) against the real statements.
//
// A job is created `pending` (create.ts, the only insert). Transitions that keep the state
// (heartbeat, progress, requestCancel, claim of a running row = takeover of a lost attempt) are
// in the table too: they are refused from every other state.
import { type JobState, TERMINAL_JOB_STATES } from "@capy/contracts";

export const JOB_TRANSITIONS = {
  /** A worker claims the job (a running row: it takes over a lost attempt, fencing it off). */
  claim: { pending: "running", running: "running" },
  /** The running attempt refreshes heartbeat_at. */
  heartbeat: { running: "running" },
  /** The running attempt records its phase or bytes written. */
  progress: { running: "running" },
  /** POST /v1/jobs/{id}/cancel on a running job: its worker stops it. */
  requestCancel: { running: "running" },
  complete: { running: "completed" },
  /** A failed attempt with attempts left. */
  retry: { running: "pending" },
  /** A failed attempt that is final (permanent failure, or attempts used up). */
  fail: { running: "failed" },
  /** No handler can run the job (never claimed, so no attempt to fence). */
  failUnclaimed: { pending: "failed", running: "failed" },
  cancelPending: { pending: "canceled" },
  /** The attempt (or the reconciler) ends a job whose cancel was requested. */
  cancelRunning: { running: "canceled" },
  /** The worker was lost (stale heartbeat, or its BullMQ lock expired) and attempts are left. */
  lostRetry: { running: "pending" },
  /** The worker was lost on the last allowed attempt. */
  lostFail: { running: "failed" },
  /** The worker was lost after the job's cancel was requested. */
  lostCancel: { running: "canceled" },
} as const satisfies Record<string, Partial<Record<JobState, JobState>>>;

export type JobTransition = keyof typeof JOB_TRANSITIONS;
export const JOB_TRANSITION_NAMES = Object.keys(JOB_TRANSITIONS) as JobTransition[];

/** The states `transition` may start from (the WHERE clause of its statement). */
export function fromStates(transition: JobTransition): JobState[] {
  return Object.keys(JOB_TRANSITIONS[transition]) as JobState[];
}

/** The state `transition` leads to from `state`, or null when the table forbids it. */
export function nextState(transition: JobTransition, state: JobState): JobState | null {
  return (JOB_TRANSITIONS[transition] as Partial<Record<JobState, JobState>>)[state] ?? null;
}

export function isTerminal(state: string): boolean {
  return (TERMINAL_JOB_STATES as readonly string[]).includes(state);
}
