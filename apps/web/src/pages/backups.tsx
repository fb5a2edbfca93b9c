// Backups of one project: the list with its verification state, "Back up now" with live
// progress, download, verify again and delete.
import type { Backup, Job } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { errorText } from "../errors.js";
import { formatBytes, formatDateTime, formatRelative } from "../format.js";
import { useSession } from "../session.js";
import { useTRPC } from "../trpc.js";
import { Badge, Button, Card, ConfirmDialog, EmptyState, ErrorBanner, Field, Mono, PageHeader } from "../ui/components.js";
import { DatabaseIcon, DownloadIcon, PlusIcon } from "../ui/icons.js";
import { TrackedJobs, useTrackedJobs } from "../ui/jobs.js";
import { ResourceTable } from "../ui/table.js";
import { useToast } from "../ui/toasts.js";
import type { PageDef, PageProps } from "./registry.js";

function BackupsPage({ params }: PageProps) {
  const projectId = params.projectId!;
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tracked = useTrackedJobs();
  const [deleting, setDeleting] = useState<Backup | null>(null);
  const listKey = trpc.backups.list.queryKey({ id: projectId });
  const backups = useQuery({
    ...trpc.backups.list.queryOptions({ id: projectId }),
    // Fast while something is being made or verified, slow otherwise.
    refetchInterval: (query) => (tracked.running || query.state.data?.backups.some((backup) => backup.verification_state === "pending") ? 2000 : 30_000),
  });
  const track = tracked.track;
  const refresh = () => queryClient.invalidateQueries({ queryKey: listKey });

  return (
    <>
      <PageHeader
        title="Backups"
        description="Every backup is restored into a throwaway database and checked against its source before it counts as verified."
      />
      <BackupNow projectId={projectId} onStarted={(job, label) => track(job, label ? `Backup “${label}”` : "Backup")} />
      <TrackedJobs tracked={tracked} onFinished={() => void refresh()} />
      <Card title="All backups">
        <ResourceTable
          rows={backups.data?.backups}
          error={backups.error}
          columns={["Backup", "Verification", { label: "Size", numeric: true }, "Created", { label: "Actions", hidden: true }]}
          loadingLabel="Loading backups…"
          empty={
            <EmptyState icon={<DatabaseIcon />} title="No backups yet">
              <p>Start one with “Back up now”, or set a daily schedule.</p>
            </EmptyState>
          }
        >
          {(backup) => (
            <BackupRow
              key={backup.id}
              projectId={projectId}
              backup={backup}
              onVerify={(job) => track(job, `Verification of ${backup.label ?? backup.id}`)}
              onDelete={() => setDeleting(backup)}
            />
          )}
        </ResourceTable>
      </Card>
      {deleting && <DeleteBackup projectId={projectId} backup={deleting} onClose={() => setDeleting(null)} onDeleted={refresh} />}
    </>
  );
}

function BackupNow({ projectId, onStarted }: { projectId: string; onStarted: (job: Job, label: string | null) => void }) {
  const trpc = useTRPC();
  const [label, setLabel] = useState("");
  const create = useMutation(trpc.backups.create.mutationOptions());
  function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = label.trim() || null;
    create.mutate(
      { id: projectId, label: trimmed },
      {
        onSuccess: ({ job }) => {
          onStarted(job, trimmed);
          setLabel("");
        },
      },
    );
  }
  return (
    <Card>
      <form className="inline-form" onSubmit={submit}>
        <Field label="Label (optional)" hint="Shown in the list, e.g. “before migration”.">
          {({ id, describedBy }) => (
            <input
              id={id}
              aria-describedby={describedBy}
              maxLength={200}
              value={label}
              onChange={(event) => setLabel(event.target.value)}
              placeholder="before migration"
            />
          )}
        </Field>
        <Button type="submit" variant="primary" icon={<PlusIcon />} busy={create.isPending}>
          Back up now
        </Button>
      </form>
      <ErrorBanner error={create.error} title="The backup could not be started." />
    </Card>
  );
}

function VerificationBadge({ backup }: { backup: Backup }) {
  if (backup.state === "failed") return <Badge tone="danger">Backup failed</Badge>;
  if (backup.verification_state === "verified")
    return (
      <Badge tone="success" title={`Verified ${formatDateTime(backup.verified_at)}`}>
        Verified
      </Badge>
    );
  if (backup.verification_state === "failed") return <Badge tone="danger">Verification failed</Badge>;
  return <Badge tone="info">Verifying</Badge>;
}

function BackupRow({ projectId, backup, onVerify, onDelete }: { projectId: string; backup: Backup; onVerify: (job: Job) => void; onDelete: () => void }) {
  const trpc = useTRPC();
  const toast = useToast();
  const verify = useMutation(
    trpc.backups.verify.mutationOptions({ onSuccess: ({ job }) => onVerify(job), onError: (error) => toast("danger", errorText(error)) }),
  );
  const name = backup.label ?? "Unlabelled backup";
  return (
    <tr>
      <td>
        <div className="cell-title">{name}</div>
        <Mono>{backup.id}</Mono>
      </td>
      <td>
        <VerificationBadge backup={backup} />
        {backup.verification_error && <p className="cell-error">{backup.verification_error}</p>}
      </td>
      <td className="num">{formatBytes(backup.size_bytes)}</td>
      <td>
        <span title={formatDateTime(backup.created_at)}>{formatRelative(backup.created_at)}</span>
      </td>
      <td className="actions">
        <DownloadButton projectId={projectId} backup={backup} />
        <Button
          variant="ghost"
          busy={verify.isPending}
          onClick={() => verify.mutate({ id: projectId, backupID: backup.id })}
          aria-label={`Verify again: ${name}`}
        >
          Verify again
        </Button>
        <Button variant="ghost" className="text-danger" onClick={onDelete} aria-label={`Delete ${name}`}>
          Delete
        </Button>
      </td>
    </tr>
  );
}

/** Fetches the archive with the credential (a plain link cannot send it) and saves it. */
function DownloadButton({ projectId, backup }: { projectId: string; backup: Backup }) {
  const { client } = useSession();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  async function download() {
    setBusy(true);
    try {
      const file = await client.downloadBackup(projectId, backup.id);
      const blob = await new Response(file.body).blob();
      const url = URL.createObjectURL(blob);
      const anchor = document.createElement("a");
      anchor.href = url;
      anchor.download = file.filename ?? `${backup.id}.dump`;
      anchor.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      toast("danger", errorText(error));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Button variant="ghost" icon={<DownloadIcon />} busy={busy} onClick={() => void download()} aria-label={`Download ${backup.label ?? backup.id}`}>
      Download
    </Button>
  );
}

function DeleteBackup({ projectId, backup, onClose, onDeleted }: { projectId: string; backup: Backup; onClose: () => void; onDeleted: () => void }) {
  const trpc = useTRPC();
  const toast = useToast();
  const remove = useMutation(
    trpc.backups.delete.mutationOptions({
      onSuccess: () => {
        toast("success", "Backup deleted");
        onDeleted();
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      title="Delete this backup?"
      body={
        <p>
          <strong>{backup.label ?? backup.id}</strong> ({formatBytes(backup.size_bytes)}, {formatDateTime(backup.created_at)}) and its archive are removed for
          good.
        </p>
      }
      confirmLabel="Delete backup"
      busy={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ id: projectId, backupID: backup.id })}
      onClose={onClose}
    />
  );
}

export const page: PageDef = {
  path: "/projects/:projectId/backups",
  component: BackupsPage,
  nav: { label: "Backups", icon: <DatabaseIcon />, section: "project" },
  scope: "backups:read",
};
