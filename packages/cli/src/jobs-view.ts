// How a job is shown: a one-line status, a detail block, a table row, and its failure report.
import type { Job } from "@capy/contracts";
import { humanBytes, humanDuration, humanTime, type Output, printKeyValue, shortTime, tail } from "./output.js";

/** Fields newer APIs may add to a job; read when present, ignored otherwise. */
export type JobWithProgress = Job;

export function attemptsText(job: Job): string {
  return `${job.attempts}/${job.max_attempts}`;
}

function durationText(job: Job, now = Date.now()): string | undefined {
  if (!job.started_at) return undefined;
  const end = job.completed_at ? Date.parse(job.completed_at) : now;
  return humanDuration(end - Date.parse(job.started_at));
}

/** "running (attempt 1/3, dumping, 12 MiB)": everything but elapsed time, so changes are detectable. */
export function statusText(job: JobWithProgress): string {
  const details: string[] = [];
  if (job.state === "pending") details.push(job.attempts > 0 ? `retrying, ${job.attempts}/${job.max_attempts} attempts so far` : "queued");
  if (job.state === "running") details.push(`attempt ${Math.max(job.attempts, 1)}/${job.max_attempts}`);
  // The phase and byte count say what a running attempt is doing; pending and finished jobs
  // already say it with their state.
  if (job.state === "running" && job.phase) details.push(job.phase);
  if (job.state === "running" && (job.phase === "dumping" || job.phase === "restoring") && typeof job.progress_bytes === "number")
    details.push(humanBytes(job.progress_bytes));
  return details.length > 0 ? `${job.state} (${details.join(", ")})` : job.state;
}

export function printJobDetails(output: Output, job: JobWithProgress): void {
  const entries: Array<[string, string | number | null | undefined]> = [
    ["id", job.id],
    ["type", job.type],
    ["state", statusText(job)],
    ["attempts", attemptsText(job)],
    ["project", job.project_id],
    ["database", job.locked_resource.replace(/^database:/, "")],
    ["created", humanTime(job.created_at)],
    ["started", humanTime(job.started_at)],
    ["completed", humanTime(job.completed_at)],
    ["duration", durationText(job)],
    ["worker", job.claimed_by],
    ["exit code", job.last_exit_code],
    ["retry class", job.retry_classification],
    ["error", job.error],
  ];
  printKeyValue(output, entries);
  const stderr = tail(job.last_stderr);
  if (stderr) output.out(`stderr (last lines):\n${stderr}`);
}

export const JOB_TABLE_HEAD = ["ID", "TYPE", "STATE", "ATTEMPTS", "CREATED", "DURATION", "ERROR"];

export function jobRow(job: Job): string[] {
  const error = job.error ? (job.error.length > 60 ? `${job.error.slice(0, 57)}...` : job.error) : "";
  return [job.id, job.type, job.state, attemptsText(job), shortTime(job.created_at), durationText(job) ?? "-", error];
}

/** The report for a failed or canceled job, written to stderr. */
export function failureReport(job: Job): string {
  const lines = [
    `job ${job.id} ${job.state} after ${attemptsText(job)} attempts${job.retry_classification ? ` (${job.retry_classification})` : ""}: ${job.error ?? "no error message recorded"}`,
  ];
  if (job.last_exit_code !== null) lines.push(`exit code: ${job.last_exit_code}`);
  const stderr = tail(job.last_stderr);
  if (stderr) lines.push(`stderr (last lines):\n${stderr}`);
  return lines.join("\n");
}
