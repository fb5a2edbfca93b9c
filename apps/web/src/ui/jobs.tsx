// How a job looks everywhere: its state badge, and the live progress of a running one.
import type { Job } from "@capy/sdk";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { formatBytes } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Badge, ErrorBanner, type Tone } from "./components.js";

export const TERMINAL_STATES: readonly Job["state"][] = ["completed", "failed", "canceled"];
export const isTerminal = (job: Pick<Job, "state">) => TERMINAL_STATES.includes(job.state);

/** A job kind in words; a new kind fails to compile here until it is named. */
export const JOB_TYPE_TEXT: Record<Job["type"], string> = { backup: "Backup", verify: "Verification", restore: "Restore" };

const STATE_TONE: Record<Job["state"], Tone> = { pending: "neutral", running: "info", completed: "success", failed: "danger", canceled: "warning" };

export function JobStateBadge({ job }: { job: Pick<Job, "state"> }) {
  return <Badge tone={STATE_TONE[job.state]}>{job.state[0]!.toUpperCase() + job.state.slice(1)}</Badge>;
}

const PHASE_TEXT: Record<NonNullable<Job["phase"]>, string> = {
  queued: "Waiting for a worker",
  dumping: "Dumping the database",
  verifying: "Verifying by restoring a copy",
  restoring: "Restoring the backup",
  done: "Finishing",
};

const COMPLETED_TEXT: Record<Job["type"], string> = { backup: "Backup stored and verified", verify: "Verified", restore: "Restored" };

/** What a job is doing now, in words ("Dumping the database · 12.3 MB written"). */
export function progressText(job: Job): string {
  if (job.state === "completed") return COMPLETED_TEXT[job.type];
  if (job.state === "failed") return job.error ?? "Failed";
  if (job.state === "canceled") return "Canceled";
  if (job.state === "pending" && job.phase === null) return "Waiting for a worker";
  const phase = job.phase ? PHASE_TEXT[job.phase] : "Running";
  return job.progress_bytes ? `${phase} · ${formatBytes(job.progress_bytes)} written` : phase;
}

/** Polled once a second until the job finishes; `onFinished` runs once when it does. */
export function JobProgress({ jobId, title, onFinished, onDismiss }: { jobId: string; title: string; onFinished: (job: Job) => void; onDismiss: () => void }) {
  const trpc = useTRPC();
  const query = useQuery({
    ...trpc.jobs.get.queryOptions({ jobID: jobId }),
    refetchInterval: (current) => (current.state.data && isTerminal(current.state.data.job) ? false : 1000),
  });
  const job = query.data?.job;
  const finished = job && isTerminal(job);
  // Runs on the transition to a terminal state only (not on every poll or new callback).
  // biome-ignore lint/correctness/useExhaustiveDependencies: deliberately keyed on `finished` alone (see above)
  useEffect(() => {
    if (job && finished) onFinished(job);
  }, [finished]);
  return (
    <div className={`progress-card${finished ? ` progress-${job.state}` : ""}`} aria-live="polite">
      <div className="progress-head">
        <strong>{title}</strong>
        {job && <JobStateBadge job={job} />}
      </div>
      <ErrorBanner error={query.error} />
      {job && (
        <>
          <p className="progress-text">{progressText(job)}</p>
          {!finished && <progress aria-label={`${title}: ${progressText(job)}`} />}
        </>
      )}
      {finished && (
        <button type="button" className="link-button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

/** Jobs started on a page, shown with live progress until dismissed. */
export function useTrackedJobs() {
  const [jobs, setJobs] = useState<Array<{ id: string; title: string; finished: boolean }>>([]);
  return {
    jobs,
    running: jobs.some((job) => !job.finished),
    track: (job: Job, title: string) => setJobs((current) => [{ id: job.id, title, finished: false }, ...current]),
    finish: (id: string) => setJobs((current) => current.map((job) => (job.id === id ? { ...job, finished: true } : job))),
    dismiss: (id: string) => setJobs((current) => current.filter((job) => job.id !== id)),
  };
}

/** The live progress of a page's tracked jobs; `onFinished` runs as each one ends. */
export function TrackedJobs({ tracked, onFinished }: { tracked: ReturnType<typeof useTrackedJobs>; onFinished: (job: Job) => void }) {
  if (tracked.jobs.length === 0) return null;
  return (
    <div className="progress-list">
      {tracked.jobs.map((job) => (
        <JobProgress
          key={job.id}
          jobId={job.id}
          title={job.title}
          onFinished={(finished) => {
            tracked.finish(job.id);
            onFinished(finished);
          }}
          onDismiss={() => tracked.dismiss(job.id)}
        />
      ))}
    </div>
  );
}
