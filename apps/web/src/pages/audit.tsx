// The organization's audit log, newest first: who did what to which resource.
import type { AuditEvent } from "@capy/sdk";
import { useQuery } from "@tanstack/react-query";
import { formatDateTime, formatRelative } from "../format.js";
import { useSession } from "../session.js";
import { useTRPC } from "../trpc.js";
import { Card, EmptyState, Mono, PageHeader } from "../ui/components.js";
import { ShieldIcon } from "../ui/icons.js";
import { ResourceTable } from "../ui/table.js";
import type { PageDef } from "./registry.js";

const LIMIT = 200;

function AuditPage() {
  const { principal } = useSession();
  const trpc = useTRPC();
  const events = useQuery(trpc.auditEvents.list.queryOptions({ orgID: principal.organization_id, limit: LIMIT }));
  return (
    <>
      <PageHeader title="Audit log" description={`The last ${LIMIT} security-relevant actions in your organization.`} />
      <Card>
        <ResourceTable
          rows={events.data?.audit_events}
          error={events.error}
          columns={["When", "Action", "Actor", "Target", "Details"]}
          loadingLabel="Loading the audit log…"
          empty={<EmptyState icon={<ShieldIcon />} title="Nothing recorded yet" />}
        >
          {(event) => <EventRow key={event.id} event={event} />}
        </ResourceTable>
      </Card>
    </>
  );
}

function EventRow({ event }: { event: AuditEvent }) {
  return (
    <tr>
      <td>
        <span title={formatDateTime(event.created_at)}>{formatRelative(event.created_at)}</span>
      </td>
      <td>
        <Mono>{event.action}</Mono>
      </td>
      <td>
        <span className="muted">{event.actor_type.replace("_", " ")} </span>
        <Mono>{event.actor_id}</Mono>
      </td>
      <td>
        <span className="muted">{event.target_type.replace("_", " ")} </span>
        <Mono>{event.target_id}</Mono>
      </td>
      <td className="cell-wrap">
        <Details metadata={event.metadata} />
      </td>
    </tr>
  );
}

function Details({ metadata }: { metadata: AuditEvent["metadata"] }) {
  const entries = Object.entries(metadata).filter(([, value]) => value !== null && value !== undefined);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="kv-list">
      {entries.map(([key, value]) => (
        <li key={key}>
          <span className="muted">{key.replaceAll("_", " ")}:</span> {Array.isArray(value) ? value.join(", ") : String(value)}
        </li>
      ))}
    </ul>
  );
}

export const page: PageDef = {
  path: "/audit",
  component: AuditPage,
  nav: { label: "Audit log", icon: <ShieldIcon />, section: "organization" },
  scope: "api_keys:read",
  organizationOnly: true,
};
