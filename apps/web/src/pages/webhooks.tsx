// Webhook endpoints: list with health, create (the signing secret shown once), pause/resume, test
// ping, rotate the secret (shown once), delete, and one endpoint's deliveries with redeliver.
import type { Webhook, WebhookDelivery } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { errorText } from "../errors.js";
import { formatDateTime, formatRelative } from "../format.js";
import { useSession } from "../session.js";
import { useTRPC } from "../trpc.js";
import { Badge, Button, Card, ConfirmDialog, CopyButton, EmptyState, ErrorBanner, Field, Mono, PageHeader, type Tone } from "../ui/components.js";
import { ListIcon, PlusIcon } from "../ui/icons.js";
import { ResourceTable } from "../ui/table.js";
import { useToast } from "../ui/toasts.js";
import type { PageDef } from "./registry.js";

/** The API's event types (@capy/contracts EVENT_TYPES); `*` subscribes to all, future ones included. */
const EVENT_TYPES = [
  "job.completed",
  "job.failed",
  "job.canceled",
  "backup.completed",
  "backup.verification_failed",
  "backup.deleted",
  "restore.completed",
  "preview.ready",
  "preview.deleted",
] as const;

const HEALTH_TONE: Record<Webhook["health"], Tone> = { healthy: "success", failing: "warning", disabled: "danger" };
const DELIVERY_TONE: Record<WebhookDelivery["state"], Tone> = { pending: "info", succeeded: "success", failed: "danger" };
const capitalized = (text: string) => text[0]!.toUpperCase() + text.slice(1);

function useWebhookKeys() {
  const { principal } = useSession();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const orgID = principal.organization_id;
  return {
    orgID,
    refreshList: () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey({ orgID }) }),
    refreshDeliveries: (webhookID: string) => queryClient.invalidateQueries({ queryKey: trpc.webhooks.deliveries.queryKey({ orgID, webhookID }) }),
  };
}

function WebhooksPage() {
  const { principal } = useSession();
  const trpc = useTRPC();
  const { orgID } = useWebhookKeys();
  const webhooks = useQuery(trpc.webhooks.list.queryOptions({ orgID }));
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ title: string; value: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const canWrite = principal.scopes.includes("webhooks:write");
  const shown = webhooks.data?.webhooks.find((webhook) => webhook.id === selected);
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Endpoints receive signed POSTs when jobs, backups and previews change. Polling the API stays the source of truth."
        actions={
          canWrite && !creating ? (
            <Button variant="primary" icon={<PlusIcon />} onClick={() => setCreating(true)}>
              Create webhook
            </Button>
          ) : undefined
        }
      />
      {creating && (
        <CreateWebhook
          onCreated={(webhook, value) => {
            setCreating(false);
            setSecret({ title: `Signing secret of ${webhook.url}`, value });
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      {secret && <SecretOnce title={secret.title} value={secret.value} onDone={() => setSecret(null)} />}
      <Card>
        <ResourceTable
          rows={webhooks.data?.webhooks}
          error={webhooks.error}
          columns={["Endpoint", "Events", "Health", "Active", "Created", { label: "Actions", hidden: true }]}
          loadingLabel="Loading webhooks…"
          empty={<EmptyState icon={<ListIcon />} title="No webhooks" />}
        >
          {(webhook) => (
            <WebhookRow
              key={webhook.id}
              webhook={webhook}
              canWrite={canWrite}
              onShowDeliveries={() => setSelected(webhook.id)}
              onRotated={(value) => setSecret({ title: `New signing secret of ${webhook.url}`, value })}
              onDelete={() => setDeleting(webhook)}
            />
          )}
        </ResourceTable>
      </Card>
      {shown && <Deliveries webhook={shown} canWrite={canWrite} onClose={() => setSelected(null)} />}
      {deleting && (
        <DeleteWebhook
          webhook={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => setSelected((current) => (current === deleting.id ? null : current))}
        />
      )}
    </>
  );
}

function CreateWebhook({ onCreated, onCancel }: { onCreated: (webhook: Webhook, secret: string) => void; onCancel: () => void }) {
  const trpc = useTRPC();
  const { orgID, refreshList } = useWebhookKeys();
  const [url, setUrl] = useState("");
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>(["job.completed", "job.failed"]);
  const [description, setDescription] = useState("");
  const create = useMutation(
    trpc.webhooks.create.mutationOptions({
      onSuccess: ({ webhook, secret }) => {
        void refreshList();
        onCreated(webhook, secret);
      },
    }),
  );
  const toggle = (event: string, on: boolean) => setEvents((current) => (on ? [...current, event] : current.filter((candidate) => candidate !== event)));
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ orgID, url: url.trim(), events: all ? ["*"] : events, description: description.trim() || null });
  }
  return (
    <Card title="Create a webhook">
      <form onSubmit={submit} noValidate className="stack">
        <Field label="Endpoint URL" hint="https, reachable from the internet.">
          {({ id, describedBy }) => (
            // biome-ignore lint/a11y/noAutofocus: the form's first field, focused as the form opens
            <input id={id} aria-describedby={describedBy} type="url" value={url} maxLength={2048} onChange={(event) => setUrl(event.target.value)} autoFocus />
          )}
        </Field>
        <fieldset className="checkbox-group">
          <legend>Events</legend>
          <label className="checkbox">
            <input type="checkbox" checked={all} onChange={(event) => setAll(event.target.checked)} />
            All events <span className="muted">including ones added later</span>
          </label>
          {EVENT_TYPES.map((type) => (
            <label key={type} className="checkbox">
              <input type="checkbox" disabled={all} checked={all || events.includes(type)} onChange={(event) => toggle(type, event.target.checked)} />
              <Mono>{type}</Mono>
            </label>
          ))}
        </fieldset>
        <Field label="Description (optional)">
          {({ id }) => <input id={id} value={description} maxLength={500} onChange={(event) => setDescription(event.target.value)} />}
        </Field>
        <ErrorBanner error={create.error} />
        <div className="button-row">
          <Button type="submit" variant="primary" busy={create.isPending}>
            Create webhook
          </Button>
          <Button onClick={onCancel}>Cancel</Button>
        </div>
      </form>
    </Card>
  );
}

function SecretOnce({ title, value, onDone }: { title: string; value: string; onDone: () => void }) {
  return (
    <Card title={title}>
      <div className="alert alert-warning" role="status">
        Copy it now: it is shown only once. Receivers verify the X-CapyDB-Signature header with it.
      </div>
      <div className="secret-row">
        <input readOnly aria-label="Signing secret" value={value} className="mono-input" onFocus={(event) => event.target.select()} />
        <CopyButton value={value} label="Copy signing secret" />
      </div>
      <Button variant="primary" onClick={onDone}>
        Done
      </Button>
    </Card>
  );
}

function WebhookRow({
  webhook,
  canWrite,
  onShowDeliveries,
  onRotated,
  onDelete,
}: {
  webhook: Webhook;
  canWrite: boolean;
  onShowDeliveries: () => void;
  onRotated: (secret: string) => void;
  onDelete: () => void;
}) {
  const trpc = useTRPC();
  const toast = useToast();
  const { orgID, refreshList, refreshDeliveries } = useWebhookKeys();
  const onError = (error: unknown) => toast("danger", errorText(error));
  const update = useMutation(trpc.webhooks.update.mutationOptions({ onSuccess: () => refreshList(), onError }));
  const ping = useMutation(
    trpc.webhooks.test.mutationOptions({
      onSuccess: () => {
        toast("success", "Test ping queued");
        void refreshDeliveries(webhook.id);
        onShowDeliveries();
      },
      onError,
    }),
  );
  const rotate = useMutation(trpc.webhooks.rotateSecret.mutationOptions({ onSuccess: ({ secret }) => onRotated(secret), onError }));
  const path = { orgID, webhookID: webhook.id };
  return (
    <tr>
      <td className="cell-wrap">
        <div className="cell-title">{webhook.url}</div>
        {webhook.description && <div className="muted">{webhook.description}</div>}
        <Mono>{webhook.id}</Mono>
      </td>
      <td className="cell-wrap">
        <ul className="tag-list">
          {webhook.events.map((event) => (
            <li key={event}>
              <Mono>{event === "*" ? "all events" : event}</Mono>
            </li>
          ))}
        </ul>
      </td>
      <td>
        <Badge tone={HEALTH_TONE[webhook.health]}>{capitalized(webhook.health)}</Badge>
      </td>
      <td>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={webhook.is_active}
            disabled={!canWrite || update.isPending}
            onChange={(event) => update.mutate({ ...path, is_active: event.target.checked })}
            aria-label={`Active: ${webhook.url}`}
          />
          {webhook.is_active ? "Active" : "Paused"}
        </label>
      </td>
      <td>
        <span title={formatDateTime(webhook.created_at)}>{formatRelative(webhook.created_at)}</span>
      </td>
      <td className="actions actions-wrap">
        <Button variant="ghost" onClick={onShowDeliveries} aria-label={`Deliveries of ${webhook.url}`}>
          Deliveries
        </Button>
        {canWrite && (
          <>
            <Button variant="ghost" busy={ping.isPending} onClick={() => ping.mutate(path)} aria-label={`Send test ping to ${webhook.url}`}>
              Send test ping
            </Button>
            <Button variant="ghost" busy={rotate.isPending} onClick={() => rotate.mutate(path)} aria-label={`Rotate secret of ${webhook.url}`}>
              Rotate secret
            </Button>
            <Button variant="ghost" className="text-danger" onClick={onDelete} aria-label={`Delete ${webhook.url}`}>
              Delete
            </Button>
          </>
        )}
      </td>
    </tr>
  );
}

function Deliveries({ webhook, canWrite, onClose }: { webhook: Webhook; canWrite: boolean; onClose: () => void }) {
  const trpc = useTRPC();
  const { orgID } = useWebhookKeys();
  const deliveries = useQuery({
    ...trpc.webhooks.deliveries.queryOptions({ orgID, webhookID: webhook.id }),
    // Fast while one is still being attempted, slow otherwise.
    refetchInterval: (query) => (query.state.data?.deliveries.some((delivery) => delivery.state === "pending") ? 1500 : 15_000),
  });
  return (
    <Card title={`Deliveries of ${webhook.url}`} actions={<Button onClick={onClose}>Close deliveries</Button>}>
      <ResourceTable
        rows={deliveries.data?.deliveries}
        error={deliveries.error}
        columns={["Event", "State", { label: "Attempts", numeric: true }, "Last status", "Last error", "Next attempt", { label: "Actions", hidden: true }]}
        loadingLabel="Loading deliveries…"
        empty={<EmptyState icon={<ListIcon />} title="No deliveries yet" />}
      >
        {(delivery) => <DeliveryRow key={delivery.id} webhook={webhook} delivery={delivery} canWrite={canWrite} />}
      </ResourceTable>
    </Card>
  );
}

function DeliveryRow({ webhook, delivery, canWrite }: { webhook: Webhook; delivery: WebhookDelivery; canWrite: boolean }) {
  const trpc = useTRPC();
  const toast = useToast();
  const { orgID, refreshDeliveries } = useWebhookKeys();
  const redeliver = useMutation(
    trpc.webhooks.redeliver.mutationOptions({
      onSuccess: () => refreshDeliveries(webhook.id),
      onError: (error) => toast("danger", errorText(error)),
    }),
  );
  return (
    <tr>
      <td>
        <Mono>{delivery.event_type}</Mono>
        <div>
          <span className="muted" title={formatDateTime(delivery.created_at)}>
            {formatRelative(delivery.created_at)}
          </span>
        </div>
      </td>
      <td>
        <Badge tone={DELIVERY_TONE[delivery.state]}>{capitalized(delivery.state)}</Badge>
      </td>
      <td className="num">{delivery.attempts}</td>
      <td>{delivery.last_status_code ?? <span className="muted">—</span>}</td>
      <td className="cell-wrap">{delivery.last_error ? <span className="cell-error">{delivery.last_error}</span> : <span className="muted">—</span>}</td>
      <td>{delivery.next_attempt_at ? <span title={formatDateTime(delivery.next_attempt_at)}>{formatRelative(delivery.next_attempt_at)}</span> : "—"}</td>
      <td className="actions">
        {canWrite && delivery.state !== "pending" && (
          <Button
            variant="ghost"
            busy={redeliver.isPending}
            onClick={() => redeliver.mutate({ orgID, webhookID: webhook.id, deliveryID: delivery.id })}
            aria-label={`Redeliver ${delivery.id}`}
          >
            Redeliver
          </Button>
        )}
      </td>
    </tr>
  );
}

function DeleteWebhook({ webhook, onClose, onDeleted }: { webhook: Webhook; onClose: () => void; onDeleted: () => void }) {
  const trpc = useTRPC();
  const toast = useToast();
  const { orgID, refreshList } = useWebhookKeys();
  const remove = useMutation(
    trpc.webhooks.delete.mutationOptions({
      onSuccess: () => {
        toast("success", "Webhook deleted");
        void refreshList();
        onDeleted();
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      title="Delete this webhook?"
      body={
        <p>
          <strong>{webhook.url}</strong> stops receiving events, and its delivery history is removed. Pending deliveries are not sent.
        </p>
      }
      confirmLabel="Delete webhook"
      busy={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ orgID, webhookID: webhook.id })}
      onClose={onClose}
    />
  );
}

export const page: PageDef = {
  path: "/webhooks",
  component: WebhooksPage,
  nav: { label: "Webhooks", icon: <ListIcon />, section: "organization" },
  scope: "webhooks:read",
};
