// The invariants a chaos run must keep, checked on what runChaos collected, as table rows
// (invariant | result | detail). PASS/FAIL rows are the checks; INFO rows are the run's figures.
import type { ChaosRun, FinalJob } from "./run.js";

export type InvariantResult = "PASS" | "FAIL" | "INFO";

export interface InvariantRow {
  invariant: string;
  result: InvariantResult;
  detail: string;
}

const TERMINAL = ["completed", "failed", "canceled"];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const list = (items: string[], max = 5) => (items.length <= max ? items.join("; ") : `${items.slice(0, max).join("; ")}; … ${items.length - max} more`);

export function checkInvariants(run: ChaosRun): InvariantRow[] {
  const rows: InvariantRow[] = [];
  const check = (invariant: string, ok: boolean, detail: string) => rows.push({ invariant, result: ok ? "PASS" : "FAIL", detail });
  const info = (invariant: string, detail: string) => rows.push({ invariant, result: "INFO", detail });
  const { options } = run;
  const jobById = new Map(run.jobs.map((j) => [j.id, j]));
  const backupsByJob = new Map<string, ChaosRun["backups"]>();
  for (const b of run.backups) backupsByJob.set(b.jobId, [...(backupsByJob.get(b.jobId) ?? []), b]);
  const describe = (j: FinalJob) =>
    `${j.id} ${j.state}/${j.phase ?? "-"} attempts ${j.attempts}/${j.maxAttempts} rc ${j.retryClassification ?? "-"}${j.error ? ` "${j.error.slice(0, 80)}"` : ""}`;

  // --- the chaos itself happened ----------------------------------------------------------------
  const accepted = run.posts.filter((p) => p.status >= 200 && p.status < 300 && p.jobId);
  const replacementsFailed = run.kills.filter((k) => k.replacementError);
  const cancelsSent = run.cancels.filter((c) => c.status !== 0);
  check(
    "chaos injected as requested",
    accepted.length === options.backups &&
      run.kills.length === options.kills &&
      replacementsFailed.length === 0 &&
      run.redisRestarts.length === options.redisRestarts &&
      cancelsSent.length === options.cancels,
    `${accepted.length}/${options.backups} backup requests answered 2xx with a job; ${run.kills.length}/${options.kills} SIGKILLs` +
      ` (${replacementsFailed.length} replacements failed to start); ${run.redisRestarts.length}/${options.redisRestarts} Redis restarts;` +
      ` ${cancelsSent.length}/${options.cancels} cancel requests sent` +
      (run.posts.length > accepted.length
        ? `; refused: ${list(run.posts.filter((p) => !p.jobId).map((p) => `#${p.index} HTTP ${p.status} ${p.error ?? ""}`))}`
        : "") +
      (cancelsSent.length < options.cancels ? `; not sent: ${list(run.cancels.filter((c) => c.status === 0).map((c) => c.error ?? ""))}` : ""),
  );
  const acceptedIds = new Set(accepted.map((p) => p.jobId!));
  const unknownRows = run.jobs.filter((j) => !acceptedIds.has(j.id));
  const missingRows = [...acceptedIds].filter((id) => !jobById.has(id));
  check(
    "one job row per accepted request",
    unknownRows.length === 0 && missingRows.length === 0,
    `${run.jobs.length} job rows for ${acceptedIds.size} accepted requests` +
      (missingRows.length ? `; missing: ${list(missingRows)}` : "") +
      (unknownRows.length ? `; unexpected: ${list(unknownRows.map((j) => j.id))}` : ""),
  );

  // --- every job ended ------------------------------------------------------------------------------
  const unfinished = run.jobs.filter((j) => !TERMINAL.includes(j.state));
  check(
    "every job reached a terminal state",
    run.allTerminal && unfinished.length === 0,
    unfinished.length === 0
      ? `all ${run.jobs.length} terminal ${seconds(run.processingMs)} after the first request`
      : `${unfinished.length} not terminal ${seconds(run.processingMs)} after the first request (deadline ${seconds(options.terminalTimeoutMs)} after the last chaos event): ${list(unfinished.map((j) => `${describe(j)} ${run.stuckQueueStates?.[j.id] ?? ""}`))}`,
  );
  const badFailures = run.jobs.filter((j) => j.state === "failed" && !(j.retryClassification === "worker_lost" && j.attempts >= j.maxAttempts));
  check(
    "no job failed (except attempts used up by lost workers)",
    badFailures.length === 0,
    badFailures.length === 0
      ? `${run.jobs.filter((j) => j.state === "failed").length} failed${run.jobs.some((j) => j.state === "failed") ? ", all worker_lost with attempts used up" : ""}`
      : `${badFailures.length} failed: ${list(badFailures.map(describe))}`,
  );

  // --- completed backups are real -------------------------------------------------------------------
  const completed = run.jobs.filter((j) => j.state === "completed");
  const missing = run.restores.filter((r) => !r.exists);
  check(
    "completed backup: artifact exists",
    missing.length === 0 && run.restores.length === completed.length,
    `${run.restores.length - missing.length}/${completed.length} completed backups have their artifact in storage` +
      (missing.length ? `; missing: ${list(missing.map((r) => `${r.backupId} (${r.error ?? ""})`))}` : ""),
  );
  const wrongHash = run.restores.filter((r) => r.exists && !r.sha256Matches);
  check(
    "completed backup: SHA-256 matches its row",
    wrongHash.length === 0 && missing.length === 0,
    `${run.restores.filter((r) => r.sha256Matches).length}/${completed.length} match` +
      (wrongHash.length ? `; mismatched: ${list(wrongHash.map((r) => r.backupId))}` : ""),
  );
  const attempted = run.restores.filter((r) => r.restored !== undefined);
  const restoreFailures = attempted.filter((r) => !r.restored || !r.rowCountsMatch);
  check(
    "completed backup: pg_restore into a scratch DB succeeds",
    restoreFailures.length === 0 && attempted.length > 0 === completed.length > 0,
    `restored ${run.restoreMode}: ${attempted.length - restoreFailures.length}/${attempted.length} restored with the source's row counts` +
      (restoreFailures.length ? `; failed: ${list(restoreFailures.map((r) => `${r.backupId}: ${r.error ?? "row counts differ"}`))}` : ""),
  );
  const rowProblems: string[] = [];
  for (const job of completed) {
    const rowsOfJob = backupsByJob.get(job.id) ?? [];
    if (rowsOfJob.length !== 1) rowProblems.push(`${job.id}: ${rowsOfJob.length} backup rows`);
    else if (rowsOfJob[0]!.verificationState !== "verified") rowProblems.push(`${job.id}: backup ${rowsOfJob[0]!.id} is ${rowsOfJob[0]!.verificationState}`);
  }
  for (const [jobId, rowsOfJob] of backupsByJob) {
    const job = jobById.get(jobId);
    if (!job) rowProblems.push(`backup ${rowsOfJob[0]!.id}: no job row ${jobId}`);
    else if (job.state === "canceled" || job.state === "pending" || job.state === "running")
      rowProblems.push(`${jobId} (${job.state}): has backup ${rowsOfJob.map((b) => b.id).join(",")}`);
    else if (job.state === "failed" && rowsOfJob.some((b) => b.verificationState !== "failed"))
      rowProblems.push(`${jobId} (failed): backup ${rowsOfJob[0]!.id} is ${rowsOfJob[0]!.verificationState}`);
  }
  check(
    "exactly one (verified) backup row per completed backup job",
    rowProblems.length === 0,
    rowProblems.length === 0 ? `${completed.length} completed jobs, ${run.backups.length} backup rows` : list(rowProblems),
  );

  // --- concurrency ------------------------------------------------------------------------------------
  const s = run.sampler;
  const perDatabase = Object.entries(s.maxDumpsPerDatabase)
    .map(([d, n]) => `${d.slice(-12)}: ${n}`)
    .join(", ");
  const sampled = s.samples > 0 && s.dumps.length > 0;
  check(
    "no two dumps of one database overlapped",
    sampled && s.overlapSamples === 0,
    `${s.samples} samples of pg_stat_activity (every ${s.meanIntervalMs.toFixed(0)} ms, ${s.sampleErrors} failed${s.lastError ? `: ${s.lastError}` : ""}), ` +
      `${s.dumps.length} pg_dump connection sightings; max dumps at once per database: ${perDatabase}` +
      (s.overlapSamples
        ? `; ${s.overlapSamples} samples with overlaps, e.g. ${list(
            s.overlaps.map(
              (o) =>
                `+${seconds(o.at - run.startedAt)} ${o.database.slice(-12)}: ${o.dumps.map((d) => `pid ${d.pid} ${d.workerId ?? "orphan"} [${d.jobIds.join(",")}]`).join(" + ")}`,
            ),
            3,
          )}`
        : "") +
      (sampled ? "" : "; no dump was ever seen, so the sampler proved nothing") +
      (s.closingConnections ? `; ${s.closingConnections} sightings of connections already closed by their client` : "") +
      (s.unattributedConnections ? `; ${s.unattributedConnections} connection sightings with no known owner (e.g. ${s.unattributedExamples.join(" | ")})` : ""),
  );
  check(
    "concurrent dumps per cluster <= cap",
    sampled && s.maxClusterDumps <= options.dumpCap,
    `max ${s.maxClusterDumps} at once on the cluster (cap ${options.dumpCap})${s.maxClusterDumpsAt ? ` at +${seconds(s.maxClusterDumpsAt - run.startedAt)}` : ""}`,
  );

  // --- nothing left behind ---------------------------------------------------------------------------
  const keys = new Set(run.backups.map((b) => b.backupKey));
  const partials = run.storageFiles.filter((f) => f.endsWith(".partial"));
  const orphans = run.storageFiles.filter((f) => !f.endsWith(".partial") && !keys.has(f));
  check(
    "no orphan artifacts (and no .partial) in storage",
    partials.length === 0 && orphans.length === 0,
    `${run.storageFiles.length} files for ${run.backups.length} backup rows; ${orphans.length} orphans, ${partials.length} .partial` +
      ` (${run.settled ? `settled in ${seconds(run.settleMs)}` : `NOT settled after ${seconds(run.settleMs)}`})` +
      (orphans.length || partials.length ? `: ${list([...orphans, ...partials])}` : ""),
  );
  check(
    "no leftover throwaway databases",
    run.leftoverThrowawayDatabases.length === 0,
    `${run.leftoverThrowawayDatabases.length} databases named ${run.verifyDatabasePrefix}_* left` +
      (run.leftoverThrowawayDatabases.length ? `: ${list(run.leftoverThrowawayDatabases)}` : ""),
  );
  check("no pg_dump left running", run.leftoverDumps === 0, `${run.leftoverDumps} pg_dump processes on the sources after the run settled`);

  // --- cancel ------------------------------------------------------------------------------------------
  const cancelProblems: string[] = [];
  let effective = 0;
  let tooLate = 0;
  // A running attempt notices a cancel on its next heartbeat; a dead worker's job is ended by the
  // reconciler once its heartbeat is stale.
  const noticeMs = 2 * options.heartbeatIntervalMs + 1_000;
  const endBoundMs = options.heartbeatTimeoutMs + options.reconcileIntervalMs + 3_000;
  for (const c of cancelsSent) {
    const job = jobById.get(c.jobId);
    if (!job) {
      cancelProblems.push(`${c.jobId}: no job row`);
      continue;
    }
    if (c.status === 409) {
      // Already terminal when asked: fine only if it really was.
      if (job.completedAt && job.completedAt.getTime() <= c.returnedAt && job.state !== "canceled") tooLate++;
      else cancelProblems.push(`${c.jobId}: cancel answered 409 but the job ended ${job.state} at ${job.completedAt?.toISOString() ?? "never"}`);
      continue;
    }
    if (c.status < 200 || c.status >= 300 || !c.answered) {
      cancelProblems.push(`${c.jobId} (${c.mode}): cancel answered HTTP ${c.status} ${c.error ?? ""}`.trim());
      continue;
    }
    effective++;
    const problems: string[] = [];
    if (job.state !== "canceled") problems.push(`ended ${job.state}, not canceled`);
    if (job.state === "canceled" && job.retryClassification !== "canceled") problems.push(`retry_classification ${job.retryClassification}`);
    if ((backupsByJob.get(job.id) ?? []).length > 0)
      problems.push(
        `has backup row ${backupsByJob
          .get(job.id)!
          .map((b) => b.id)
          .join(",")}`,
      );
    if (!job.completedAt || job.completedAt.getTime() < c.sentAt - 1_000)
      problems.push(`completed_at ${job.completedAt?.toISOString() ?? "null"} before the cancel`);
    const trace = s.jobs.get(job.id);
    const dumpsAfter = (fromMs: number) => s.dumps.filter((d) => d.jobIds.includes(job.id) && d.at > fromMs);
    if (c.answered.state === "canceled") {
      // Canceled while pending: it must never be claimed again.
      if (job.attempts !== c.answered.attempts) problems.push(`attempts ${c.answered.attempts} at cancel, ${job.attempts} at the end`);
      if ((job.claimedAt?.toISOString() ?? null) !== (c.answered.claimed_at === null ? null : new Date(c.answered.claimed_at).toISOString()))
        problems.push(`claimed again at ${job.claimedAt?.toISOString()}`);
      if (trace?.lastSeenRunningAt !== undefined && trace.lastSeenRunningAt > c.returnedAt)
        problems.push(`seen running ${seconds(trace.lastSeenRunningAt - c.returnedAt)} after the cancel`);
      if (dumpsAfter(c.returnedAt).length) problems.push(`${dumpsAfter(c.returnedAt).length} pg_dump sightings after the cancel`);
    } else if (c.answered.state === "running") {
      if (job.completedAt && job.completedAt.getTime() - c.returnedAt > endBoundMs)
        problems.push(`ended ${seconds(job.completedAt.getTime() - c.returnedAt)} after the cancel (bound ${seconds(endBoundMs)})`);
      if (dumpsAfter(c.returnedAt + noticeMs).length)
        problems.push(`${dumpsAfter(c.returnedAt + noticeMs).length} pg_dump sightings more than ${seconds(noticeMs)} after the cancel`);
    } else problems.push(`cancel answered a job in state ${c.answered.state}`);
    if (problems.length) cancelProblems.push(`${c.jobId} (${c.mode}, was ${c.before.state}/${c.before.phase ?? "-"}): ${problems.join(", ")}`);
  }
  for (const job of run.jobs.filter((j) => j.state === "canceled" && !cancelsSent.some((c) => c.jobId === j.id)))
    cancelProblems.push(`${job.id}: canceled without a request`);
  check(
    "no canceled job ran after the cancel",
    cancelProblems.length === 0 && (options.cancels === 0 || effective > 0),
    `${cancelsSent.length} cancels sent: ${effective} accepted (${cancelsSent.filter((c) => c.answered?.state === "canceled").length} while pending, ` +
      `${cancelsSent.filter((c) => c.answered?.state === "running").length} while running), ${tooLate} too late (job already finished)` +
      (cancelProblems.length ? `; problems: ${list(cancelProblems)}` : "") +
      (options.cancels > 0 && effective === 0 ? "; no cancel took effect, so nothing was proved" : ""),
  );

  // --- lost attempts --------------------------------------------------------------------------------------
  const lost = run.kills.flatMap((k) => k.lostJobs.map((j) => ({ ...j, workerId: k.workerId })));
  const lostProblems: string[] = [];
  for (const l of lost) {
    const job = jobById.get(l.id);
    const seen = s.jobs.get(l.id)?.retryClassifications.has("worker_lost") || job?.retryClassification === "worker_lost";
    if (!job || !TERMINAL.includes(job.state)) lostProblems.push(`${l.id} (lost by ${l.workerId} while ${l.phase}): never finished`);
    else if (!seen && job.state !== "canceled")
      lostProblems.push(`${l.id} (lost by ${l.workerId} while ${l.phase}): never recorded worker_lost (ended ${job.state})`);
  }
  check(
    "every attempt lost to a SIGKILL was taken over (worker_lost)",
    lostProblems.length === 0 && (options.kills === 0 || lost.length > 0),
    `${lost.length} running attempts lost to ${run.kills.length} kills (${list(
      lost.map((l) => `${l.id}/${l.phase}`),
      4,
    )})` +
      (lostProblems.length ? `; problems: ${list(lostProblems)}` : "") +
      (options.kills > 0 && lost.length === 0 ? "; no kill hit a running job, so takeover was not tested" : ""),
  );

  // --- consistency of the rows ---------------------------------------------------------------------------
  const inconsistent: string[] = [];
  for (const j of run.jobs.filter((x) => TERMINAL.includes(x.state))) {
    if (!j.completedAt) inconsistent.push(`${j.id}: ${j.state} without completed_at`);
    else if (j.completedAt < j.createdAt) inconsistent.push(`${j.id}: completed_at before created_at`);
    if (j.attempts > j.maxAttempts) inconsistent.push(`${j.id}: ${j.attempts} attempts > max ${j.maxAttempts}`);
    if (j.state === "completed" && (j.attempts < 1 || !j.claimedAt || (j.completedAt && j.claimedAt > j.completedAt)))
      inconsistent.push(`${j.id}: completed but claimed_at ${j.claimedAt?.toISOString()} / attempts ${j.attempts}`);
    if (j.phase !== "done") inconsistent.push(`${j.id}: ${j.state} with phase ${j.phase}`);
  }
  check(
    "terminal job rows consistent (completed_at, claimed_at, attempts, phase)",
    inconsistent.length === 0,
    inconsistent.length ? list(inconsistent) : `${run.jobs.length} rows checked`,
  );

  // --- the outbox ----------------------------------------------------------------------------------------
  rows.push(...checkOutbox(run));

  if (run.webhooks) checkWebhooks(run, check, info);

  // --- figures ----------------------------------------------------------------------------------------------
  const byState = TERMINAL.concat(["pending", "running"])
    .map((state) => `${state} ${run.jobs.filter((j) => j.state === state).length}`)
    .join(", ");
  info("jobs by state", byState);
  const histogram = new Map<number, number>();
  for (const j of run.jobs) histogram.set(j.attempts, (histogram.get(j.attempts) ?? 0) + 1);
  info(
    "attempts histogram",
    [...histogram.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([n, c]) => `${n}: ${c}`)
      .join(", "),
  );
  const everLost = [...s.jobs.entries()].filter(([, t]) => t.retryClassifications.has("worker_lost")).length;
  info(
    "worker_lost",
    `${everLost} jobs seen with retry_classification worker_lost during the run; ${run.jobs.filter((j) => j.retryClassification === "worker_lost").length} at the end`,
  );
  info(
    "kills",
    `${run.kills.length} SIGKILLs: ${list(
      run.kills.map((k) => `+${seconds(k.at - run.startedAt)} ${k.workerId} (lost ${k.lostJobs.length})`),
      25,
    )}`,
  );
  info(
    "Redis restarts",
    run.redisRestarts.length ? run.redisRestarts.map((r) => `+${seconds(r.at - run.startedAt)} (down ${r.downMs} ms)`).join(", ") : "none",
  );
  info(
    "wall time",
    `${seconds(run.wallMs)} in all; ${seconds(run.processingMs)} from the first request until every job was terminal; settle ${seconds(run.settleMs)}`,
  );
  info("seed", `${run.seed} (replay: --seed ${run.seed}); worker and API logs in ${run.logDir}`);
  return rows;
}

/**
 * Events exist exactly for the changes that committed: every ended job has exactly one job.* event,
 * of its final state, and every job.* event's job is in the state it reports (none for a job still
 * pending or running); every completed backup job's backup has one backup.completed (verified) and
 * every backup whose verification failed one backup.verification_failed, with no event for a
 * backup that does not exist.
 */
export function checkOutbox(run: Pick<ChaosRun, "jobs" | "backups" | "events">): InvariantRow[] {
  const jobProblems: string[] = [];
  const jobEvents = new Map<string, ChaosRun["events"]>();
  for (const e of run.events.filter((x) => x.type.startsWith("job."))) jobEvents.set(e.subjectId, [...(jobEvents.get(e.subjectId) ?? []), e]);
  const jobIds = new Set(run.jobs.map((j) => j.id));
  for (const job of run.jobs) {
    const events = jobEvents.get(job.id) ?? [];
    if (!TERMINAL.includes(job.state)) {
      if (events.length) jobProblems.push(`${job.id} (${job.state}): ${events.map((e) => e.type).join(",")}`);
      continue;
    }
    if (events.length !== 1)
      jobProblems.push(`${job.id} (${job.state}): ${events.length} terminal events${events.length ? ` (${events.map((e) => e.type).join(",")})` : ""}`);
    else if (events[0]!.type !== `job.${job.state}` || events[0]!.state !== job.state)
      jobProblems.push(`${job.id} (${job.state}): event ${events[0]!.type} with data.state ${events[0]!.state}`);
  }
  for (const [id, events] of jobEvents) if (!jobIds.has(id)) jobProblems.push(`${events.map((e) => e.type).join(",")} for job ${id} that has no row`);

  const backupProblems: string[] = [];
  const backupEvents = new Map<string, ChaosRun["events"]>();
  for (const e of run.events.filter((x) => x.type.startsWith("backup."))) backupEvents.set(e.subjectId, [...(backupEvents.get(e.subjectId) ?? []), e]);
  const stateOf = new Map(run.jobs.map((j) => [j.id, j.state]));
  for (const backup of run.backups) {
    const types = (backupEvents.get(backup.id) ?? []).map((e) => e.type);
    const expected =
      stateOf.get(backup.jobId) === "completed" ? ["backup.completed"] : backup.verificationState === "failed" ? ["backup.verification_failed"] : [];
    if (types.join() !== expected.join())
      backupProblems.push(
        `${backup.id} (job ${stateOf.get(backup.jobId)}, verification ${backup.verificationState}): [${types.join(",")}], expected [${expected.join(",")}]`,
      );
    for (const e of backupEvents.get(backup.id) ?? []) {
      if (e.type === "backup.completed" && e.verificationState !== "verified")
        backupProblems.push(`${backup.id}: backup.completed with verification_state ${e.verificationState}`);
    }
  }
  const backupIds = new Set(run.backups.map((b) => b.id));
  for (const [id, events] of backupEvents)
    if (!backupIds.has(id)) backupProblems.push(`${events.map((e) => e.type).join(",")} for backup ${id} that has no row`);

  const ended = run.jobs.filter((j) => TERMINAL.includes(j.state)).length;
  const result = (ok: boolean): InvariantResult => (ok ? "PASS" : "FAIL");
  return [
    {
      invariant: "every ended job has exactly one terminal event, each event's job is in that state",
      result: result(jobProblems.length === 0),
      detail: jobProblems.length ? list(jobProblems) : `${ended} ended jobs, ${[...jobEvents.values()].flat().length} job events`,
    },
    {
      invariant: "backup events match the backup rows (completed/verified, verification failed)",
      result: result(backupProblems.length === 0),
      detail: backupProblems.length ? list(backupProblems) : `${run.backups.length} backup rows, ${[...backupEvents.values()].flat().length} backup events`,
    },
  ];
}

/** The rows as an aligned text table (invariant | result | detail). */
export function formatInvariantTable(rows: InvariantRow[]): string {
  const widths = [Math.max(9, ...rows.map((r) => r.invariant.length)), 6];
  const line = (a: string, b: string, c: string) => `| ${a.padEnd(widths[0]!)} | ${b.padEnd(widths[1]!)} | ${c}`;
  return [
    line("invariant", "result", "detail"),
    `|${"-".repeat(widths[0]! + 2)}|${"-".repeat(widths[1]! + 2)}|${"-".repeat(8)}`,
    ...rows.map((r) => line(r.invariant, r.result, r.detail)),
  ].join("\n");
}

export function failedInvariants(rows: InvariantRow[]): InvariantRow[] {
  return rows.filter((r) => r.result === "FAIL");
}

type Check = (invariant: string, ok: boolean, detail: string) => void;

/** Webhooks: every terminal job's event arrived at least once; nothing outside the outbox did. */
function checkWebhooks(run: ChaosRun, check: Check, info: (invariant: string, detail: string) => void): void {
  const { received, outbox, terminalJobs, caughtUp, refusedFirstAttempts } = run.webhooks!;
  const got = new Set(received.map((event) => `${event.type} ${event.subject}`));
  const missing = terminalJobs.filter((j) => !got.has(`job.${j.state} ${j.id}`));
  check(
    "webhooks: every terminal job's event delivered at least once",
    missing.length === 0 && caughtUp,
    (missing.length === 0
      ? `${terminalJobs.length} job.completed/failed/canceled events at the receiver`
      : `missing: ${list(missing.map((j) => `job.${j.state} ${j.id}`))}`) + (caughtUp ? "" : "; the receiver did not catch up with the outbox in time"),
  );
  const outboxIds = new Set(outbox.map((event) => event.id));
  const receivedIds = new Set(received.map((event) => event.id));
  const strangers = [...receivedIds].filter((id) => !outboxIds.has(id));
  const undelivered = [...outboxIds].filter((id) => !receivedIds.has(id));
  check(
    "webhooks: deduplicated by event id, the receiver saw exactly the outbox",
    strangers.length === 0 && undelivered.length === 0,
    `${receivedIds.size} distinct events received, ${outboxIds.size} in the outbox` +
      (strangers.length ? `; not in the outbox: ${list(strangers)}` : "") +
      (undelivered.length ? `; never received: ${list(undelivered)}` : ""),
  );
  const perDelivery = new Map<string, Set<string>>();
  for (const event of received) perDelivery.set(event.delivery, (perDelivery.get(event.delivery) ?? new Set()).add(event.id));
  const mixed = [...perDelivery.entries()].filter(([, ids]) => ids.size > 1).map(([delivery]) => delivery);
  check(
    "webhooks: one event per delivery id (X-CapyDB-Delivery stable across retries)",
    mixed.length === 0,
    mixed.length ? `mixed: ${list(mixed)}` : `${perDelivery.size} delivery ids`,
  );
  info(
    "webhook requests",
    `${received.length} requests (${received.length - receivedIds.size} repeats), ${refusedFirstAttempts} first attempts answered 500 on purpose`,
  );
}
