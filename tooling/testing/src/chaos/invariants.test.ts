// The invariant checks on hand-made runs: a clean run passes every check, and each kind of
// violation the chaos run looks for fails exactly the check meant to catch it.
// The table below breaks a clean run with one-line arrows that assign (and chain with commas).
// biome-ignore-all lint/suspicious/noAssignInExpressions: see above
// biome-ignore-all lint/complexity/noCommaOperator: see above
// biome-ignore-all lint/suspicious/useIterableCallbackReturn: see above
import { describe, expect, it } from "vitest";
import { checkInvariants, failedInvariants } from "./invariants.js";
import type { ChaosRun, FinalJob } from "./run.js";
import type { SamplerReport } from "./sampler.js";

const T0 = Date.parse("2026-11-26T10:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000);

function job(id: string, overrides: Partial<FinalJob> = {}): FinalJob {
  return {
    id,
    projectId: "prj_1",
    database: "src1",
    state: "completed",
    phase: "done",
    attempts: 1,
    maxAttempts: 3,
    claimedAt: at(1),
    claimedBy: "chaos-w1",
    retryClassification: null,
    error: null,
    createdAt: at(0),
    completedAt: at(5),
    cancelRequestedAt: null,
    ...overrides,
  };
}

function cleanRun(): ChaosRun {
  const jobs = [
    job("job_a"),
    job("job_b", { attempts: 2 }),
    job("job_c", { state: "canceled", attempts: 0, claimedAt: null, claimedBy: null, retryClassification: "canceled", completedAt: at(3) }),
    job("job_d", { state: "canceled", retryClassification: "canceled", completedAt: at(9) }),
  ];
  const sampler: SamplerReport = {
    samples: 100,
    sampleErrors: 0,
    meanIntervalMs: 100,
    maxDumpsPerDatabase: { src1: 1 },
    maxSessionsPerDatabase: { src1: 2 },
    maxClusterDumps: 2,
    overlapSamples: 0,
    overlaps: [],
    unattributedConnections: 0,
    unattributedExamples: [],
    closingConnections: 0,
    dumps: [
      { at: T0 + 2000, database: "src1", pid: 10, workerId: "chaos-w1", jobIds: ["job_a"] },
      { at: T0 + 6500, database: "src1", pid: 11, workerId: "chaos-w2", jobIds: ["job_d"] },
    ],
    jobs: new Map([
      [
        "job_b",
        {
          phases: new Set(["dumping"]),
          retryClassifications: new Set(["worker_lost"]),
          claimedBy: new Set(["chaos-w1", "chaos-w2"]),
          firstSeenRunningAt: T0 + 1000,
          lastSeenRunningAt: T0 + 4000,
        },
      ],
      [
        "job_d",
        {
          phases: new Set(["dumping"]),
          retryClassifications: new Set<string>(),
          claimedBy: new Set(["chaos-w2"]),
          firstSeenRunningAt: T0 + 6000,
          lastSeenRunningAt: T0 + 8000,
        },
      ],
    ]),
  };
  return {
    options: {
      backups: 4,
      workers: 2,
      kills: 1,
      redisRestarts: 1,
      cancels: 2,
      seed: 7,
      projects: 1,
      pgbenchScale: 1,
      workerConcurrency: 2,
      dumpCap: 2,
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 5000,
      reconcileIntervalMs: 2000,
      lockDurationMs: 3000,
      stalledIntervalMs: 2000,
      verifyTimeoutMs: 20000,
      fireGapMs: 300,
      chaosWindowMs: 10000,
      terminalTimeoutMs: 60000,
      restore: "all",
      postgres: "private",
    },
    seed: 7,
    startedAt: T0,
    wallMs: 20_000,
    allTerminal: true,
    processingMs: 10_000,
    settled: true,
    settleMs: 100,
    posts: ["job_a", "job_b", "job_c", "job_d"].map((id, index) => ({ index, projectId: "prj_1", sentAt: T0, returnedAt: T0 + 10, status: 200, jobId: id })),
    cancels: [
      {
        jobId: "job_c",
        mode: "pending",
        sentAt: T0 + 2000,
        returnedAt: T0 + 2050,
        status: 200,
        answered: { state: "canceled", attempts: 0, claimed_at: null },
        before: { state: "pending", phase: "queued" },
      },
      {
        jobId: "job_d",
        mode: "running",
        sentAt: T0 + 7000,
        returnedAt: T0 + 7050,
        status: 200,
        answered: { state: "running", attempts: 1, claimed_at: at(1).toISOString() },
        before: { state: "running", phase: "dumping" },
      },
    ],
    kills: [{ at: T0 + 3000, workerId: "chaos-w1", pid: 99, lostJobs: [{ id: "job_b", phase: "dumping" }], replacement: "chaos-w3" }],
    redisRestarts: [{ at: T0 + 4000, downMs: 80 }],
    sampler,
    jobs,
    backups: [
      {
        id: "bkp_a",
        jobId: "job_a",
        projectId: "prj_1",
        backupKey: "projects/prj_1/backups/bkp_a.dump",
        sha256: "aa",
        sizeBytes: 10,
        verificationState: "verified",
      },
      {
        id: "bkp_b",
        jobId: "job_b",
        projectId: "prj_1",
        backupKey: "projects/prj_1/backups/bkp_b.dump",
        sha256: "bb",
        sizeBytes: 10,
        verificationState: "verified",
      },
    ],
    events: [
      { id: "evt_1", seq: 1, type: "job.canceled", subjectId: "job_c", state: "canceled", verificationState: null },
      { id: "evt_2", seq: 2, type: "backup.completed", subjectId: "bkp_a", state: "completed", verificationState: "verified" },
      { id: "evt_3", seq: 3, type: "job.completed", subjectId: "job_a", state: "completed", verificationState: null },
      { id: "evt_4", seq: 4, type: "backup.completed", subjectId: "bkp_b", state: "completed", verificationState: "verified" },
      { id: "evt_5", seq: 5, type: "job.completed", subjectId: "job_b", state: "completed", verificationState: null },
      { id: "evt_6", seq: 6, type: "job.canceled", subjectId: "job_d", state: "canceled", verificationState: null },
    ],
    storageFiles: ["projects/prj_1/backups/bkp_a.dump", "projects/prj_1/backups/bkp_b.dump"],
    leftoverThrowawayDatabases: [],
    leftoverDumps: 0,
    restores: [
      { backupId: "bkp_a", jobId: "job_a", exists: true, sha256Matches: true, restored: true, rowCountsMatch: true },
      { backupId: "bkp_b", jobId: "job_b", exists: true, sha256Matches: true, restored: true, rowCountsMatch: true },
    ],
    restoreMode: "all 2 completed",
    verifyDatabasePrefix: "chaosv_test",
    logDir: "/tmp/x",
    workerEnv: {},
  };
}

const failing = (run: ChaosRun) => failedInvariants(checkInvariants(run)).map((r) => r.invariant);

describe("chaos invariants", () => {
  it("a clean run passes every check", () => {
    expect(failing(cleanRun())).toEqual([]);
  });

  it.each<[string, (run: ChaosRun) => void, string]>([
    ["a job left running", (r) => ((r.jobs[0]!.state = "running"), (r.allTerminal = false)), "every job reached a terminal state"],
    [
      "two dumps of one database at once",
      (r) => ((r.sampler.overlapSamples = 1), (r.sampler.maxDumpsPerDatabase.src1 = 2)),
      "no two dumps of one database overlapped",
    ],
    ["no dump ever sampled", (r) => (r.sampler.dumps = []), "no two dumps of one database overlapped"],
    ["three dumps on the cluster with a cap of 2", (r) => (r.sampler.maxClusterDumps = 3), "concurrent dumps per cluster <= cap"],
    ["an artifact without a backup row", (r) => r.storageFiles.push("projects/prj_1/backups/bkp_x.dump"), "no orphan artifacts (and no .partial) in storage"],
    ["a .partial left", (r) => r.storageFiles.push("projects/prj_1/backups/bkp_x.dump.1.abc.partial"), "no orphan artifacts (and no .partial) in storage"],
    ["a throwaway database left", (r) => r.leftoverThrowawayDatabases.push("chaosv_test_1_ab"), "no leftover throwaway databases"],
    ["a wrong checksum", (r) => (r.restores[0]!.sha256Matches = false), "completed backup: SHA-256 matches its row"],
    ["a missing artifact", (r) => (r.restores[0]!.exists = false), "completed backup: artifact exists"],
    ["a failed restore", (r) => (r.restores[1]!.restored = false), "completed backup: pg_restore into a scratch DB succeeds"],
    ["a completed job without its backup row", (r) => r.backups.pop(), "exactly one (verified) backup row per completed backup job"],
    [
      "a backup row for a canceled job",
      (r) => r.backups.push({ ...r.backups[0]!, id: "bkp_d", jobId: "job_d" }),
      "exactly one (verified) backup row per completed backup job",
    ],
    ["a pending-canceled job claimed later", (r) => ((r.jobs[2]!.attempts = 1), (r.jobs[2]!.claimedAt = at(4))), "no canceled job ran after the cancel"],
    [
      "a dump of a canceled job long after the cancel",
      (r) => r.sampler.dumps.push({ at: T0 + 9500, database: "src1", pid: 11, workerId: "chaos-w2", jobIds: ["job_d"] }),
      "no canceled job ran after the cancel",
    ],
    [
      "a cancel accepted but the job completed",
      (r) => ((r.jobs[3]!.state = "completed"), (r.jobs[3]!.retryClassification = null)),
      "no canceled job ran after the cancel",
    ],
    ["the cancel endpoint missing", (r) => r.cancels.forEach((c) => ((c.status = 404), delete c.answered)), "no canceled job ran after the cancel"],
    [
      "a lost job never marked worker_lost",
      (r) => r.sampler.jobs.get("job_b")!.retryClassifications.clear(),
      "every attempt lost to a SIGKILL was taken over (worker_lost)",
    ],
    ["kills that hit nothing", (r) => (r.kills[0]!.lostJobs = []), "every attempt lost to a SIGKILL was taken over (worker_lost)"],
    [
      "a job failed by a transient error",
      (r) => Object.assign(r.jobs[0]!, { state: "failed", retryClassification: "transient" }),
      "no job failed (except attempts used up by lost workers)",
    ],
    ["fewer kills than asked", (r) => (r.options.kills = 2), "chaos injected as requested"],
    [
      "an ended job without its event (a change committed, its event lost)",
      (r) => r.events.splice(0, 1),
      "every ended job has exactly one terminal event, each event's job is in that state",
    ],
    [
      "two terminal events for one job",
      (r) => r.events.push({ ...r.events[2]!, id: "evt_7", seq: 7 }),
      "every ended job has exactly one terminal event, each event's job is in that state",
    ],
    [
      "an event whose job is not in the state it reports",
      (r) => Object.assign(r.events[2]!, { type: "job.failed", state: "failed" }),
      "every ended job has exactly one terminal event, each event's job is in that state",
    ],
    [
      "an event for a job that never ended (a change rolled back, its event kept)",
      (r) => Object.assign(r.jobs[3]!, { state: "running", completedAt: null }),
      "every ended job has exactly one terminal event, each event's job is in that state",
    ],
    [
      "an event for a job with no row",
      (r) => r.events.push({ ...r.events[0]!, id: "evt_7", seq: 7, subjectId: "job_x" }),
      "every ended job has exactly one terminal event, each event's job is in that state",
    ],
    ["a completed backup never announced", (r) => r.events.splice(1, 1), "backup events match the backup rows (completed/verified, verification failed)"],
    [
      "a backup announced completed but not verified",
      (r) => (r.events[1]!.verificationState = "pending"),
      "backup events match the backup rows (completed/verified, verification failed)",
    ],
    [
      "a backup event for a backup with no row",
      (r) => r.events.push({ ...r.events[1]!, id: "evt_7", seq: 7, subjectId: "bkp_x" }),
      "backup events match the backup rows (completed/verified, verification failed)",
    ],
    ["a canceled row left in phase dumping", (r) => (r.jobs[3]!.phase = "dumping"), "terminal job rows consistent (completed_at, claimed_at, attempts, phase)"],
  ])("%s fails its check", (_name, mutate, invariant) => {
    const run = cleanRun();
    mutate(run);
    expect(failing(run)).toContain(invariant);
  });

  describe("webhooks", () => {
    /** The clean run with a receiver that got every event (a retry of job_a's included). */
    function withWebhooks(): ChaosRun {
      const run = cleanRun();
      const outbox = run.jobs.map((j) => ({ id: `evt_${j.id}`, type: `job.${j.state}`, subject: j.id }));
      const received = outbox.map((e) => ({ ...e, delivery: `dlv_${e.subject}` }));
      received.push({ ...received[0]! });
      run.webhooks = { received, outbox, terminalJobs: run.jobs.map((j) => ({ id: j.id, state: j.state })), caughtUp: true, refusedFirstAttempts: 1 };
      return run;
    }

    it("pass when every event arrived at least once", () => {
      expect(failing(withWebhooks())).toEqual([]);
    });

    it.each<[string, (run: ChaosRun) => void, string]>([
      ["a terminal job's event never received", (r) => r.webhooks!.received.splice(1, 1), "webhooks: every terminal job's event delivered at least once"],
      ["the receiver behind the outbox", (r) => (r.webhooks!.caughtUp = false), "webhooks: every terminal job's event delivered at least once"],
      [
        "an event that is not in the outbox",
        (r) => r.webhooks!.received.push({ id: "evt_x", type: "job.completed", subject: "job_x", delivery: "dlv_x" }),
        "webhooks: deduplicated by event id, the receiver saw exactly the outbox",
      ],
      [
        "two events under one delivery id",
        (r) => r.webhooks!.received.push({ ...r.webhooks!.received[1]!, delivery: "dlv_job_a" }),
        "webhooks: one event per delivery id (X-CapyDB-Delivery stable across retries)",
      ],
    ])("%s fails its check", (_name, mutate, invariant) => {
      const run = withWebhooks();
      mutate(run);
      expect(failing(run)).toContain(invariant);
    });
  });
});
