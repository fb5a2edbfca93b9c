// Polls a job until it reaches a terminal state, showing progress on stderr: one updating line
// on a terminal, a plain line per change otherwise.
import { type Job, TERMINAL_JOB_STATES } from "@capy/contracts";
import type { CapyClient } from "@capy/sdk";
import { CliError, EXIT } from "./errors.js";
import { failureReport, type JobWithProgress, printJobDetails, statusText } from "./jobs-view.js";
import { humanDuration, type Output, printJson } from "./output.js";

export interface WatchOptions {
  intervalMs: number;
}

export async function watchJob(client: CapyClient, output: Output, initial: Job, options: WatchOptions): Promise<Job> {
  const startedAt = Date.now();
  let job: JobWithProgress = initial;
  let lastStatus = "";
  let drawn = false;

  const show = () => {
    const status = statusText(job);
    if (output.interactive) {
      process.stderr.write(`\r\x1b[2K${job.id}: ${status} ${humanDuration(Date.now() - startedAt)}`);
      drawn = true;
    } else if (status !== lastStatus) {
      output.err(`${job.id}: ${status}`);
    }
    lastStatus = status;
  };

  const onInterrupt = () => {
    if (drawn) process.stderr.write("\n");
    output.err(`stopped watching; the job continues. Resume with: capy jobs watch ${job.id}`);
    process.exit(130);
  };
  process.once("SIGINT", onInterrupt);
  try {
    show();
    while (!TERMINAL_JOB_STATES.includes(job.state)) {
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      job = (await client.jobs.get.query({ jobID: job.id })).job;
      show();
    }
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    if (drawn) process.stderr.write("\n");
  }
  return job;
}

/**
 * A job a command just created: without `wait`, printed (and how to follow it), undefined returned;
 * with it, followed to its end and returned.
 */
export async function followCreatedJob(
  client: CapyClient,
  output: Output,
  job: Job,
  options: WatchOptions & { wait?: boolean | undefined },
): Promise<Job | undefined> {
  if (options.wait) return watchJob(client, output, job, options);
  if (output.json) printJson(output, { job });
  else {
    printJobDetails(output, job);
    output.err(`follow it with: capy jobs watch ${job.id}`);
  }
  return undefined;
}

/** Prints a finished job and turns a failed/canceled one into the job-failed exit code. */
export function reportFinishedJob(output: Output, job: Job): void {
  if (output.json) printJson(output, { job });
  else if (job.state === "completed") printJobDetails(output, job);
  if (job.state !== "completed") throw new CliError(failureReport(job), EXIT.JOB_FAILED);
}

export function parseInterval(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--interval must be a positive number of seconds, got ${value}`, EXIT.USAGE);
  return Math.round(seconds * 1000);
}
