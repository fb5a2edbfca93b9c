// The organization's API keys: list, create with chosen scopes (the secret is shown once, with a
// copy button), revoke.
import type { ApiKey, Scope } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { formatDateTime, formatRelative } from "../format.js";
import { useSession } from "../session.js";
import { useTRPC } from "../trpc.js";
import { Badge, Button, Card, ConfirmDialog, CopyButton, EmptyState, ErrorBanner, Field, Mono, PageHeader } from "../ui/components.js";
import { KeyIcon, PlusIcon } from "../ui/icons.js";
import { ResourceTable } from "../ui/table.js";
import { useToast } from "../ui/toasts.js";
import type { PageDef } from "./registry.js";

const SCOPE_TEXT: Record<Scope, string> = {
  "backups:read": "List and download backups, read schedules",
  "backups:write": "Start, verify and delete backups; change schedules; cancel jobs",
  "jobs:read": "Read jobs",
  "projects:read": "List projects",
  "api_keys:read": "List API keys, read the audit log",
  "api_keys:write": "Create and revoke API keys",
  "credentials:read": "Read preview databases' connection credentials",
  "webhooks:read": "List webhooks and their deliveries",
  "webhooks:write": "Create, change, test and delete webhooks; redeliver",
};

function ApiKeysPage() {
  const { principal } = useSession();
  const trpc = useTRPC();
  const orgID = principal.organization_id;
  const keys = useQuery(trpc.apiKeys.list.queryOptions({ orgID }));
  const projects = useQuery({ ...trpc.projects.list.queryOptions({}), enabled: principal.scopes.includes("projects:read") });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const canWrite = principal.scopes.includes("api_keys:write");
  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys act for your organization, or for one project. Only a key's prefix is stored in readable form."
        actions={
          canWrite && !creating ? (
            <Button variant="primary" icon={<PlusIcon />} onClick={() => setCreating(true)}>
              Create API key
            </Button>
          ) : undefined
        }
      />
      {creating && <CreateKey onDone={() => setCreating(false)} />}
      <Card>
        <ResourceTable
          rows={keys.data?.api_keys}
          error={keys.error}
          columns={["Name", "Scopes", "Project", "Status", "Last used", "Created", { label: "Actions", hidden: true }]}
          loadingLabel="Loading API keys…"
          empty={<EmptyState icon={<KeyIcon />} title="No API keys" />}
        >
          {(key) => (
            <KeyRow
              key={key.id}
              apiKey={key}
              canWrite={canWrite}
              onRevoke={() => setRevoking(key)}
              projectName={projects.data?.projects.find((project) => project.id === key.project_id)?.name}
            />
          )}
        </ResourceTable>
      </Card>
      {revoking && <RevokeKey apiKey={revoking} onClose={() => setRevoking(null)} />}
    </>
  );
}

function KeyRow({ apiKey, canWrite, onRevoke, projectName }: { apiKey: ApiKey; canWrite: boolean; onRevoke: () => void; projectName: string | undefined }) {
  return (
    <tr>
      <td>
        <div className="cell-title">{apiKey.name}</div>
        <Mono>{apiKey.key_prefix}…</Mono>
      </td>
      <td className="cell-wrap">
        <ul className="tag-list">
          {apiKey.scopes.map((scope) => (
            <li key={scope}>
              <Mono>{scope}</Mono>
            </li>
          ))}
        </ul>
      </td>
      <td>
        {apiKey.project_id ? (
          <span title={apiKey.project_id}>{projectName ?? <Mono>{apiKey.project_id}</Mono>}</span>
        ) : (
          <span className="muted">All projects</span>
        )}
      </td>
      <td>
        <KeyStatus apiKey={apiKey} />
      </td>
      <td>
        {apiKey.last_used_at ? (
          <span title={formatDateTime(apiKey.last_used_at)}>{formatRelative(apiKey.last_used_at)}</span>
        ) : (
          <span className="muted">Never</span>
        )}
      </td>
      <td>
        <span title={formatDateTime(apiKey.created_at)}>{formatRelative(apiKey.created_at)}</span>
      </td>
      <td className="actions">
        {canWrite && apiKey.is_active && (
          <Button variant="ghost" className="text-danger" onClick={onRevoke} aria-label={`Revoke ${apiKey.name}`}>
            Revoke
          </Button>
        )}
      </td>
    </tr>
  );
}

function KeyStatus({ apiKey }: { apiKey: ApiKey }) {
  if (apiKey.revoked_at)
    return (
      <Badge tone="danger" title={formatDateTime(apiKey.revoked_at)}>
        Revoked
      </Badge>
    );
  if (!apiKey.is_active) return <Badge tone="warning">Expired</Badge>;
  return (
    <Badge tone="success" title={apiKey.expires_at ? `Expires ${formatDateTime(apiKey.expires_at)}` : "Never expires"}>
      Active
    </Badge>
  );
}

function CreateKey({ onDone }: { onDone: () => void }) {
  const { principal } = useSession();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const projects = useQuery({ ...trpc.projects.list.queryOptions({}), enabled: principal.scopes.includes("projects:read") });
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["backups:read", "jobs:read"]);
  const [projectId, setProjectId] = useState("");
  const create = useMutation(
    trpc.apiKeys.create.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey({ orgID: principal.organization_id }) }),
    }),
  );
  const toggle = (scope: Scope, on: boolean) => setScopes((current) => (on ? [...current, scope] : current.filter((candidate) => candidate !== scope)));
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ orgID: principal.organization_id, name, scopes, project_id: projectId || null });
  }

  if (create.data) {
    return (
      <Card title="Your new API key">
        <div className="alert alert-warning" role="status">
          Copy it now: it is shown only once and cannot be recovered.
        </div>
        <div className="secret-row">
          <input readOnly aria-label="New API key" value={create.data.secret} className="mono-input" onFocus={(event) => event.target.select()} />
          <CopyButton value={create.data.secret} label="Copy API key" />
        </div>
        <Button variant="primary" onClick={onDone}>
          Done
        </Button>
      </Card>
    );
  }
  return (
    <Card title="Create an API key">
      <form onSubmit={submit} noValidate className="stack">
        <Field label="Name" hint="To recognise the key by, e.g. “CI pipeline”.">
          {({ id, describedBy }) => (
            // biome-ignore lint/a11y/noAutofocus: the dialog's first field, focused as the dialog opens (focus is moved into dialogs)
            <input id={id} aria-describedby={describedBy} value={name} maxLength={100} onChange={(event) => setName(event.target.value)} autoFocus />
          )}
        </Field>
        <fieldset className="checkbox-group">
          <legend>Scopes</legend>
          {principal.scopes.map((scope) => (
            <label key={scope} className="checkbox">
              <input type="checkbox" checked={scopes.includes(scope)} onChange={(event) => toggle(scope, event.target.checked)} />
              <Mono>{scope}</Mono>
              <span className="muted">{SCOPE_TEXT[scope]}</span>
            </label>
          ))}
        </fieldset>
        <Field label="Project" hint="A project key acts on that project only and cannot manage keys.">
          {({ id, describedBy }) => (
            <select id={id} aria-describedby={describedBy} value={projectId} onChange={(event) => setProjectId(event.target.value)}>
              <option value="">All projects (organization key)</option>
              {projects.data?.projects.map((project) => (
                <option key={project.id} value={project.id}>
                  {project.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ErrorBanner error={create.error} />
        <div className="button-row">
          <Button type="submit" variant="primary" busy={create.isPending}>
            Create key
          </Button>
          <Button onClick={onDone}>Cancel</Button>
        </div>
      </form>
    </Card>
  );
}

function RevokeKey({ apiKey, onClose }: { apiKey: ApiKey; onClose: () => void }) {
  const { principal } = useSession();
  const trpc = useTRPC();
  const toast = useToast();
  const queryClient = useQueryClient();
  const revoke = useMutation(
    trpc.apiKeys.revoke.mutationOptions({
      onSuccess: () => {
        toast("success", `Revoked ${apiKey.name}`);
        void queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey({ orgID: principal.organization_id }) });
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      title="Revoke this API key?"
      body={
        <p>
          Programs using <strong>{apiKey.name}</strong> (<Mono>{apiKey.key_prefix}…</Mono>) are refused from now on. This cannot be undone.
        </p>
      }
      confirmLabel="Revoke key"
      busy={revoke.isPending}
      error={revoke.error}
      onConfirm={() => revoke.mutate({ orgID: principal.organization_id, keyID: apiKey.id })}
      onClose={onClose}
    />
  );
}

export const page: PageDef = {
  path: "/api-keys",
  component: ApiKeysPage,
  nav: { label: "API keys", icon: <KeyIcon />, section: "organization" },
  scope: "api_keys:read",
  organizationOnly: true,
};
