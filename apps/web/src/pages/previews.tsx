// Preview databases of one project: restore a verified backup into a new preview (live progress
// until it is ready or failed), the list with state and expiry, credentials on demand (hidden by
// default, credentials:read only) and delete.
import type { Job, PreviewDatabase } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { formatDateTime, formatRelative } from "../format.js";
import { useSession } from "../session.js";
import { useTRPC } from "../trpc.js";
import { Badge, Button, Card, ConfirmDialog, CopyButton, EmptyState, ErrorBanner, Field, Loading, Mono, PageHeader, type Tone } from "../ui/components.js";
import { DatabaseIcon, PlusIcon } from "../ui/icons.js";
import { TrackedJobs, useTrackedJobs } from "../ui/jobs.js";
import { ResourceTable } from "../ui/table.js";
import { useToast } from "../ui/toasts.js";
import type { PageDef, PageProps } from "./registry.js";

/** Hours a new preview lives unless the form says otherwise (the API's default, 1-720). */
const DEFAULT_TTL_HOURS = 24;

const STATE_TONE: Record<PreviewDatabase["state"], Tone> = { creating: "info", ready: "success", failed: "danger", deleting: "warning", deleted: "neutral" };
const STATE_TEXT: Record<PreviewDatabase["state"], string> = {
  creating: "Restoring",
  ready: "Ready",
  failed: "Failed",
  deleting: "Deleting",
  deleted: "Deleted",
};

function PreviewsPage({ params }: PageProps) {
  const projectId = params.projectId!;
  const { principal } = useSession();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tracked = useTrackedJobs();
  const [revealed, setRevealed] = useState<PreviewDatabase | null>(null);
  const [deleting, setDeleting] = useState<PreviewDatabase | null>(null);
  const previews = useQuery({
    ...trpc.previewDatabases.list.queryOptions({ id: projectId }),
    // Fast while one is being restored or dropped, slow otherwise.
    refetchInterval: (query) =>
      query.state.data?.preview_databases.some((preview) => preview.state === "creating" || preview.state === "deleting") ? 2000 : 30_000,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.previewDatabases.list.queryKey({ id: projectId }) });
  const canWrite = principal.scopes.includes("backups:write");
  const canReadCredentials = principal.scopes.includes("credentials:read");

  return (
    <>
      <PageHeader
        title="Previews"
        description="A preview is a verified backup restored into a database of its own, with its own login, dropped when its time is up."
      />
      {canWrite && (
        <RestoreForm
          projectId={projectId}
          onStarted={(job: Job, name: string) => {
            tracked.track(job, `Restore to preview “${name}”`);
            void refresh();
          }}
        />
      )}
      <TrackedJobs tracked={tracked} onFinished={() => void refresh()} />
      <Card title="Preview databases">
        <ResourceTable
          rows={previews.data?.preview_databases}
          error={previews.error}
          columns={["Preview", "State", "Source backup", "Expires", "Created", { label: "Actions", hidden: true }]}
          loadingLabel="Loading previews…"
          empty={
            <EmptyState icon={<DatabaseIcon />} title="No preview databases">
              <p>Restore a verified backup to a preview to look at its data without touching the project’s database.</p>
            </EmptyState>
          }
        >
          {(preview) => (
            <PreviewRow
              key={preview.id}
              preview={preview}
              onReveal={canReadCredentials ? () => setRevealed(preview) : undefined}
              onDelete={canWrite ? () => setDeleting(preview) : undefined}
            />
          )}
        </ResourceTable>
      </Card>
      {revealed && <Credentials projectId={projectId} preview={revealed} onHide={() => setRevealed(null)} />}
      {deleting && <DeletePreview projectId={projectId} preview={deleting} onClose={() => setDeleting(null)} onDeleted={refresh} />}
    </>
  );
}

function RestoreForm({ projectId, onStarted }: { projectId: string; onStarted: (job: Job, name: string) => void }) {
  const trpc = useTRPC();
  const backups = useQuery(trpc.backups.list.queryOptions({ id: projectId }));
  const verified = backups.data?.backups.filter((backup) => backup.verification_state === "verified") ?? [];
  const [backupId, setBackupId] = useState("");
  const [name, setName] = useState("");
  const [ttl, setTtl] = useState(String(DEFAULT_TTL_HOURS));
  const create = useMutation(trpc.restores.create.mutationOptions());
  const chosen = backupId || verified[0]?.id || "";
  function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = name.trim();
    create.mutate(
      { id: projectId, backup_id: chosen, target_kind: "new_preview", preview_name: trimmed || undefined, ttl_hours: Number(ttl) },
      {
        onSuccess: ({ job }) => {
          onStarted(job, trimmed || (job.preview_database_id ?? job.id));
          setName("");
        },
      },
    );
  }
  return (
    <Card title="Restore to preview">
      <ErrorBanner error={backups.error} />
      {backups.data && verified.length === 0 ? (
        <p className="muted">No verified backup yet: previews are restored from verified backups only.</p>
      ) : (
        <form className="inline-form" onSubmit={submit}>
          <Field label="Backup">
            {({ id }) => (
              <select id={id} value={chosen} onChange={(event) => setBackupId(event.target.value)} disabled={!backups.data}>
                {verified.map((backup) => (
                  <option key={backup.id} value={backup.id}>
                    {backup.label ?? backup.id} · {formatDateTime(backup.created_at)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Preview name (optional)">
            {({ id }) => <input id={id} maxLength={200} value={name} onChange={(event) => setName(event.target.value)} placeholder="staging copy" />}
          </Field>
          <Field label="Lifetime (hours)" hint="1 to 720; dropped after that.">
            {({ id, describedBy }) => (
              <input id={id} aria-describedby={describedBy} type="number" min={1} max={720} value={ttl} onChange={(event) => setTtl(event.target.value)} />
            )}
          </Field>
          <Button type="submit" variant="primary" icon={<PlusIcon />} busy={create.isPending} disabled={!chosen}>
            Restore to preview
          </Button>
        </form>
      )}
      <ErrorBanner error={create.error} title="The restore could not be started." />
    </Card>
  );
}

function PreviewRow({ preview, onReveal, onDelete }: { preview: PreviewDatabase; onReveal?: () => void; onDelete?: () => void }) {
  const live = preview.state === "ready" || preview.state === "failed";
  return (
    <tr>
      <td>
        <div className="cell-title">{preview.name}</div>
        <Mono>{preview.id}</Mono>
      </td>
      <td>
        <Badge tone={STATE_TONE[preview.state]}>{STATE_TEXT[preview.state]}</Badge>
      </td>
      <td>{preview.source_backup_id ? <Mono>{preview.source_backup_id}</Mono> : <span className="muted">—</span>}</td>
      <td>
        <span title={formatDateTime(preview.ttl_expires_at)}>{formatRelative(preview.ttl_expires_at)}</span>
      </td>
      <td>
        <span title={formatDateTime(preview.created_at)}>{formatRelative(preview.created_at)}</span>
      </td>
      <td className="actions">
        {onReveal && preview.state === "ready" && (
          <Button variant="ghost" onClick={onReveal} aria-label={`Show credentials of ${preview.name}`}>
            Show credentials
          </Button>
        )}
        {onDelete && live && (
          <Button variant="ghost" className="text-danger" onClick={onDelete} aria-label={`Delete ${preview.name}`}>
            Delete
          </Button>
        )}
      </td>
    </tr>
  );
}

/** Fetched only when asked for (each read is audited); the password stays masked until shown. */
function Credentials({ projectId, preview, onHide }: { projectId: string; preview: PreviewDatabase; onHide: () => void }) {
  const trpc = useTRPC();
  const [showUri, setShowUri] = useState(false);
  const query = useQuery({ ...trpc.previewDatabases.credentials.queryOptions({ id: projectId, previewID: preview.id }), staleTime: 0, gcTime: 0 });
  const credentials = query.data?.credentials;
  return (
    <Card title={`Credentials of ${preview.name}`} actions={<Button onClick={onHide}>Hide credentials</Button>}>
      <ErrorBanner error={query.error} />
      {query.isPending && <Loading label="Loading credentials…" />}
      {credentials && (
        <>
          <dl className="details">
            <dt>Host</dt>
            <dd>
              <Mono>
                {credentials.host}:{credentials.port}
              </Mono>
            </dd>
            <dt>Database</dt>
            <dd>
              <Mono>{credentials.database}</Mono>
            </dd>
            <dt>User</dt>
            <dd>
              <Mono>{credentials.user}</Mono>
            </dd>
          </dl>
          <div className="secret-row">
            <input
              readOnly
              aria-label="Connection URI"
              type={showUri ? "text" : "password"}
              value={credentials.connection_uri}
              className="mono-input"
              onFocus={(event) => event.target.select()}
            />
            <Button onClick={() => setShowUri((current) => !current)} aria-pressed={showUri}>
              {showUri ? "Mask" : "Reveal"}
            </Button>
            <CopyButton value={credentials.connection_uri} label="Copy connection URI" />
          </div>
        </>
      )}
    </Card>
  );
}

function DeletePreview({
  projectId,
  preview,
  onClose,
  onDeleted,
}: {
  projectId: string;
  preview: PreviewDatabase;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const trpc = useTRPC();
  const toast = useToast();
  const remove = useMutation(
    trpc.previewDatabases.delete.mutationOptions({
      onSuccess: () => {
        toast("success", "Preview is being deleted");
        onDeleted();
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      title="Delete this preview?"
      body={
        <p>
          <strong>{preview.name}</strong> (<Mono>{preview.database_name}</Mono>) and its login are dropped for good; connections to it end.
        </p>
      }
      confirmLabel="Delete preview"
      busy={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ id: projectId, previewID: preview.id })}
      onClose={onClose}
    />
  );
}

export const page: PageDef = {
  path: "/projects/:projectId/previews",
  component: PreviewsPage,
  nav: { label: "Previews", icon: <DatabaseIcon />, section: "project" },
  scope: "backups:read",
};
