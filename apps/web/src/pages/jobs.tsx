// Jobs of one project, newest first: backups and verifications, their state and attempts;
// pending and running ones can be canceled.
import type { Job } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "wouter";
import { errorText } from "../errors.js";
import { formatDateTime, formatDuration, formatRelative } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Button, Card, EmptyState, Mono, PageHeader } from "../ui/components.js";
import { ListIcon } from "../ui/icons.js";
import { isTerminal, JOB_TYPE_TEXT, JobStateBadge, progressText } from "../ui/jobs.js";
import { ResourceTable } from "../ui/table.js";
import { useToast } from "../ui/toasts.js";
import { type PageDef, type PageProps, projectPath } from "./registry.js";

const LIMIT = 50;

function JobsPage({ params }: PageProps) {
  const projectId = params.projectId!;
  const trpc = useTRPC();
  const jobs = useQuery({
    ...trpc.jobs.list.queryOptions({ id: projectId, limit: LIMIT }),
    refetchInterval: (query) => (query.state.data?.jobs.some((job) => !isTerminal(job)) ? 2000 : 15_000),
  });
  return (
    <>
      <PageHeader title="Jobs" description={`The last ${LIMIT} backup and verification jobs of this project, newest first.`} />
      <Card>
        <ResourceTable
          rows={jobs.data?.jobs}
          error={jobs.error}
          columns={["Job", "State", "Progress", { label: "Attempts", numeric: true }, "Created", "Duration", { label: "Actions", hidden: true }]}
          loadingLabel="Loading jobs…"
          empty={
            <EmptyState icon={<ListIcon />} title="No jobs yet">
              <p>Backups you start, scheduled runs and verifications appear here.</p>
            </EmptyState>
          }
        >
          {(job) => <JobRow key={job.id} projectId={projectId} job={job} />}
        </ResourceTable>
      </Card>
    </>
  );
}

function JobRow({ projectId, job }: { projectId: string; job: Job }) {
  return (
    <tr>
      <td>
        <Link href={projectPath(projectId, `jobs/${encodeURIComponent(job.id)}`)} className="cell-title">
          {JOB_TYPE_TEXT[job.type]}
        </Link>
        <Mono>{job.id}</Mono>
      </td>
      <td>
        <JobStateBadge job={job} />
      </td>
      <td className="cell-wrap">{progressText(job)}</td>
      <td className="num">
        {job.attempts} / {job.max_attempts}
      </td>
      <td>
        <span title={formatDateTime(job.created_at)}>{formatRelative(job.created_at)}</span>
      </td>
      <td>{formatDuration(job.started_at, job.completed_at)}</td>
      <td className="actions">{!isTerminal(job) && <CancelButton job={job} projectId={projectId} />}</td>
    </tr>
  );
}

/** Cancels a pending job at once, or asks a running one's worker to stop it. */
export function CancelButton({ job, projectId }: { job: Job; projectId: string }) {
  const trpc = useTRPC();
  const toast = useToast();
  const queryClient = useQueryClient();
  const cancel = useMutation(
    trpc.jobs.cancel.mutationOptions({
      onSuccess: ({ job: canceled }) => {
        toast("success", canceled.state === "canceled" ? "Job canceled" : "Cancel requested: the worker stops the job");
        void queryClient.invalidateQueries({ queryKey: trpc.jobs.list.queryKey({ id: projectId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.jobs.get.queryKey({ jobID: job.id }) });
      },
      onError: (error) => toast("danger", errorText(error)),
    }),
  );
  return (
    <Button
      variant="ghost"
      className="text-danger"
      busy={cancel.isPending}
      onClick={() => cancel.mutate({ jobID: job.id })}
      aria-label={`Cancel job ${job.id}`}
    >
      Cancel
    </Button>
  );
}

export const page: PageDef = {
  path: "/projects/:projectId/jobs",
  component: JobsPage,
  nav: { label: "Jobs", icon: <ListIcon />, section: "project" },
  scope: "jobs:read",
};
