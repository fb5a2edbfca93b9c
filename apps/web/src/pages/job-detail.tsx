// One job in full: attempts, worker, exit code, stderr tail, retry class and error; cancel.
import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { formatDateTime, formatDuration } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Card, ErrorBanner, Loading, Mono, PageHeader } from "../ui/components.js";
import { isTerminal, JOB_TYPE_TEXT, JobStateBadge, progressText } from "../ui/jobs.js";
import { CancelButton } from "./jobs.js";
import { type PageDef, type PageProps, projectPath } from "./registry.js";

function JobDetailPage({ params }: PageProps) {
  const projectId = params.projectId!;
  const jobId = params.jobId!;
  const trpc = useTRPC();
  const query = useQuery({
    ...trpc.jobs.get.queryOptions({ jobID: jobId }),
    refetchInterval: (current) => (current.state.data && isTerminal(current.state.data.job) ? false : 1500),
  });
  const job = query.data?.job;
  return (
    <>
      <p className="breadcrumb">
        <Link href={projectPath(projectId, "jobs")}>← Jobs</Link>
      </p>
      <PageHeader
        title={job ? `${JOB_TYPE_TEXT[job.type]} job` : "Job"}
        description={<Mono>{jobId}</Mono>}
        actions={job && !isTerminal(job) ? <CancelButton job={job} projectId={projectId} /> : undefined}
      />
      <ErrorBanner error={query.error} />
      {query.isPending && <Loading label="Loading the job…" />}
      {job && (
        <div className="stack">
          <Card title="Summary">
            <dl className="details">
              <dt>State</dt>
              <dd>
                <JobStateBadge job={job} /> {!isTerminal(job) && <span className="muted">{progressText(job)}</span>}
              </dd>
              <dt>Attempts</dt>
              <dd>
                {job.attempts} of {job.max_attempts}
              </dd>
              <dt>Claimed by</dt>
              <dd>{job.claimed_by ? <Mono>{job.claimed_by}</Mono> : isTerminal(job) ? "Never claimed" : "Not claimed yet"}</dd>
              <dt>Claimed at</dt>
              <dd>{formatDateTime(job.claimed_at)}</dd>
              <dt>Started</dt>
              <dd>{formatDateTime(job.started_at)}</dd>
              <dt>Completed</dt>
              <dd>
                {formatDateTime(job.completed_at)}
                {job.started_at && job.completed_at && <span className="muted"> · took {formatDuration(job.started_at, job.completed_at)}</span>}
              </dd>
              <dt>Exit code</dt>
              <dd>{job.last_exit_code ?? "—"}</dd>
              <dt>Retry class</dt>
              <dd>{job.retry_classification ?? "—"}</dd>
              <dt>Error</dt>
              <dd className={job.error ? "text-danger" : undefined}>{job.error ?? "—"}</dd>
              <dt>Database lock</dt>
              <dd>
                <Mono>{job.locked_resource}</Mono>
              </dd>
              <dt>Created</dt>
              <dd>{formatDateTime(job.created_at)}</dd>
            </dl>
          </Card>
          <Card title="stderr (last lines)">
            {job.last_stderr ? <pre className="log">{job.last_stderr}</pre> : <p className="muted">Nothing was written to stderr.</p>}
          </Card>
        </div>
      )}
    </>
  );
}

export const page: PageDef = {
  path: "/projects/:projectId/jobs/:jobId",
  component: JobDetailPage,
  scope: "jobs:read",
};
