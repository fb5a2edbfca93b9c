// The project's daily backup schedule: time in UTC (with the browser's local time beside it),
// on/off and retention, validated by the API (its messages are shown as they come).
import type { ScheduledBackup } from "@capy/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { errorText } from "../errors.js";
import { formatDateTime, formatRelative, utcToLocalTime } from "../format.js";
import { useTRPC } from "../trpc.js";
import { Badge, Button, Card, ErrorBanner, Field, Loading, PageHeader } from "../ui/components.js";
import { ClockIcon } from "../ui/icons.js";
import { useToast } from "../ui/toasts.js";
import type { PageDef, PageProps } from "./registry.js";

interface Draft {
  hour: string;
  minute: string;
  active: boolean;
  retention: string;
}

const draftOf = (schedule: ScheduledBackup | undefined): Draft => ({
  hour: String(schedule?.cron_hour ?? 3),
  minute: String(schedule?.cron_minute ?? 0),
  active: schedule?.is_active ?? true,
  retention: String(schedule?.retention_days ?? 7),
});

/** A number field's value as typed, validated by the API only (blank: NaN, sent as null). */
const asNumber = (text: string) => (text.trim() === "" ? Number.NaN : Number(text));

function SchedulePage({ params }: PageProps) {
  const projectId = params.projectId!;
  const trpc = useTRPC();
  const schedules = useQuery(trpc.scheduledBackups.list.queryOptions({ id: projectId }));
  const current = schedules.data?.scheduled_backups[0];
  return (
    <>
      <PageHeader
        title="Schedule"
        description="One backup a day at a fixed time. Scheduled backups older than the retention period are deleted; the newest verified one is always kept."
      />
      <ErrorBanner error={schedules.error} />
      {schedules.isPending ? <Loading label="Loading the schedule…" /> : !schedules.error && <ScheduleEditor projectId={projectId} current={current} />}
    </>
  );
}

function ScheduleEditor({ projectId, current }: { projectId: string; current: ScheduledBackup | undefined }) {
  const trpc = useTRPC();
  const toast = useToast();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(current));
  useEffect(() => setDraft(draftOf(current)), [current]);
  const save = useMutation(
    trpc.scheduledBackups.putDefault.mutationOptions({
      onSuccess: () => {
        toast("success", "Schedule saved");
        return queryClient.invalidateQueries({ queryKey: trpc.scheduledBackups.list.queryKey({ id: projectId }) });
      },
    }),
  );
  const set = (patch: Partial<Draft>) => setDraft((previous) => ({ ...previous, ...patch }));
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate({
      id: projectId,
      cron_hour: asNumber(draft.hour),
      cron_minute: asNumber(draft.minute),
      is_active: draft.active,
      retention_days: asNumber(draft.retention),
    });
  }
  const hour = Number(draft.hour);
  const minute = Number(draft.minute);
  const validTime = Number.isInteger(hour) && Number.isInteger(minute) && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59;

  return (
    <div className="grid-2">
      <Card title="Daily backup">
        {/* noValidate: the API's validation messages are the ones shown. */}
        <form onSubmit={submit} noValidate className="stack">
          <div className="row">
            <NumberField label="Hour (UTC)" max={23} value={draft.hour} onChange={(hour) => set({ hour })} />
            <NumberField label="Minute (UTC)" max={59} value={draft.minute} onChange={(minute) => set({ minute })} />
            <div className="local-time" aria-live="polite">
              <ClockIcon />
              {validTime ? `${utcToLocalTime(hour, minute)} your time` : "—"}
            </div>
          </div>
          <NumberField
            label="Keep scheduled backups for (days)"
            min={1}
            max={365}
            value={draft.retention}
            onChange={(retention) => set({ retention })}
            className="input-narrow"
          />
          <label className="checkbox">
            <input type="checkbox" checked={draft.active} onChange={(event) => set({ active: event.target.checked })} />
            Active
          </label>
          {save.error && (
            <div className="alert alert-danger" role="alert">
              {errorText(save.error)}
            </div>
          )}
          <div>
            <Button type="submit" variant="primary" busy={save.isPending}>
              Save schedule
            </Button>
          </div>
        </form>
      </Card>
      <Card title="Status">
        {current ? (
          <dl className="details">
            <dt>State</dt>
            <dd>{current.is_active ? <Badge tone="success">Active</Badge> : <Badge>Paused</Badge>}</dd>
            <dt>Runs daily at</dt>
            <dd>
              {pad(current.cron_hour)}:{pad(current.cron_minute)} UTC ({utcToLocalTime(current.cron_hour, current.cron_minute)})
            </dd>
            <dt>Next run</dt>
            <dd data-testid="next-run">
              {current.next_run_at ? `${formatDateTime(current.next_run_at)} (${formatRelative(current.next_run_at)})` : "Not scheduled"}
            </dd>
            <dt>Last run</dt>
            <dd>{current.last_run_at ? formatDateTime(current.last_run_at) : "Never"}</dd>
            <dt>Retention</dt>
            <dd>{current.retention_days} days</dd>
          </dl>
        ) : (
          <p className="muted">No schedule yet: save one to start daily backups.</p>
        )}
      </Card>
    </div>
  );
}

interface NumberFieldProps {
  label: string;
  /** Default 0. */
  min?: number;
  max: number;
  value: string;
  onChange: (value: string) => void;
  className?: string;
}

/** A whole number from `min` to `max`, kept as typed text: the API's validation judges it. */
function NumberField({ label, min = 0, max, value, onChange, className }: NumberFieldProps) {
  return (
    <Field label={label} hint={`${min}–${max}`}>
      {({ id, describedBy }) => (
        <input
          id={id}
          aria-describedby={describedBy}
          type="number"
          inputMode="numeric"
          min={min}
          max={max}
          value={value}
          onChange={(event) => onChange(event.target.value)}
          className={className}
        />
      )}
    </Field>
  );
}

const pad = (value: number) => String(value).padStart(2, "0");

export const page: PageDef = {
  path: "/projects/:projectId/schedule",
  component: SchedulePage,
  nav: { label: "Schedule", icon: <ClockIcon />, section: "project" },
  scope: "backups:read",
};
