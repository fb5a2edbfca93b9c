// The transition table against the real statements: every cell (state × transition) is tried on a
// fresh row in that state. An allowed cell ends in the table's state, with exactly one job.* event
// when it ends the job and none otherwise; a refused cell changes nothing (the row is byte for
// byte as it was) and appends no event.

import { JOB_STATES, type JobState } from "@capy/contracts";
import { createDb, type Db, type Job } from "@capy/db";
import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttemptFailure, beat, cancelAttempt, claimJob, completeAttempt, failAttempt, failUnclaimed, setPhase } from "./attempt.js";
import { cancelPendingJob, requestCancel } from "./cancel.js";
import { insertJobRow } from "./create.js";
import { failLostJob, resetLostJob } from "./lost.js";
import { isTerminal, JOB_TRANSITION_NAMES, type JobTransition, nextState } from "./transitions.js";

let metadata: TestDatabase;
let db: Db;

beforeAll(async () => {
  metadata = await createMetadataDatabase();
  db = createDb(metadata.url, { maxConnections: 2 });
});

afterAll(async () => {
  await db?.$disconnect();
  await metadata?.drop();
});

interface Arrangement {
  /** attempts on the row (max_attempts is 3). */
  attempts?: number;
  cancelRequested?: boolean;
}

const failure: AttemptFailure = { classification: "transient", message: "boom", exitCode: 1, stderr: "boom\n", stdout: null };
const ref = (job: Job) => ({ jobId: job.id, fencingToken: job.fencingToken });
const lostRow = (job: Job) => ({ id: job.id, fencing_token: job.fencingToken });
/** The heartbeat of an arranged row is this old; resets treat older than HEARTBEAT_TIMEOUT_MS as lost (ms). */
const HEARTBEAT_AGE_MS = 60_000;
const HEARTBEAT_TIMEOUT_MS = 1_000;

/** Each transition's statements (some have two: a lost worker is noticed at a claim and by the reconciler). */
const RUNNERS: Record<JobTransition, { arrange?: Arrangement; run: Array<(job: Job) => Promise<unknown>> }> = {
  claim: { run: [(job) => claimJob(db, job.id, "worker-t")] },
  heartbeat: { run: [(job) => beat(db, ref(job))] },
  progress: { run: [(job) => setPhase(db, ref(job), "dumping", 42)] },
  requestCancel: { run: [(job) => requestCancel(db, { id: job.id })] },
  complete: { run: [(job) => db.$transaction((tx) => completeAttempt(tx, ref(job), { stderr: "", stdout: null })).catch(() => null)] },
  retry: { run: [(job) => failAttempt(db, ref(job), failure, false)] },
  fail: { run: [(job) => failAttempt(db, ref(job), failure, true)] },
  failUnclaimed: { run: [(job) => failUnclaimed(db, job.id, "no handler")] },
  cancelPending: { run: [(job) => cancelPendingJob(db, { id: job.id })] },
  cancelRunning: { arrange: { cancelRequested: true }, run: [(job) => cancelAttempt(db, ref(job))] },
  lostRetry: { arrange: { attempts: 1 }, run: [(job) => resetLostJob(db, lostRow(job), HEARTBEAT_TIMEOUT_MS)] },
  lostFail: {
    arrange: { attempts: 3 },
    run: [
      (job) => resetLostJob(db, lostRow(job), HEARTBEAT_TIMEOUT_MS),
      (job) => failLostJob(db, { id: job.id, fencingToken: job.fencingToken, attempts: job.attempts }),
    ],
  },
  lostCancel: { arrange: { cancelRequested: true }, run: [(job) => resetLostJob(db, lostRow(job), HEARTBEAT_TIMEOUT_MS)] },
};

/** A fresh job row in `state`, as a worker would have left it there. */
async function arrange(state: JobState, { attempts = 1, cancelRequested = false }: Arrangement = {}): Promise<Job> {
  const job = await insertJobRow(db, { type: "backup", organizationId: "org_t", projectId: "prj_t", clusterId: "cls_t", databaseName: "app" });
  const old = new Date(Date.now() - HEARTBEAT_AGE_MS);
  return db.job.update({
    where: { id: job.id },
    data: {
      state,
      attempts: state === "pending" ? attempts - 1 : attempts,
      fencingToken: 1,
      claimedAt: state === "pending" ? null : old,
      claimedBy: state === "pending" ? null : "worker-a",
      heartbeatAt: state === "pending" ? null : old,
      completedAt: isTerminal(state) ? old : null,
      phase: isTerminal(state) ? "done" : "queued",
      cancelRequestedAt: cancelRequested ? old : null,
    },
  });
}

const cells = JOB_TRANSITION_NAMES.flatMap((transition) =>
  RUNNERS[transition].run.flatMap((run, statement) => JOB_STATES.map((state) => ({ transition, statement, state, run }))),
);

describe("the job transition table", () => {
  it("has a statement for every transition", () => {
    expect(Object.keys(RUNNERS).sort()).toEqual([...JOB_TRANSITION_NAMES].sort());
  });

  it.each(cells)("$transition (statement $statement) from $state", async ({ transition, state, run }) => {
    const before = await arrange(state, RUNNERS[transition].arrange);
    await run(before);
    const after = await db.job.findUniqueOrThrow({ where: { id: before.id } });
    const events = await db.event.findMany({ where: { projectId: "prj_t", data: { path: ["id"], equals: before.id } } });
    const expected = nextState(transition, state);
    if (expected === null) {
      expect(after).toEqual(before);
      expect(events).toEqual([]);
      return;
    }
    expect(after.state).toBe(expected);
    if (isTerminal(expected)) {
      expect(events.map((event) => [event.type, (event.data as { state: string }).state])).toEqual([[`job.${expected}`, expected]]);
    } else {
      expect(events).toEqual([]);
    }
  });
});
