// capy schedule get | set
import type { ScheduledBackup } from "@capy/contracts";
import type { Command } from "commander";
import type { CliEnvironment } from "../env.js";
import { humanTime, type Output, printJson, printKeyValue } from "../output.js";
import { intParser, withContext } from "./shared.js";

const pad = (n: number) => String(n).padStart(2, "0");

/** The next daily UTC occurrence of hour:minute after `now`. */
export function nextRun(hour: number, minute: number, now = new Date()): Date {
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour, minute));
  if (next.getTime() <= now.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next;
}

function printSchedule(output: Output, schedule: ScheduledBackup): void {
  printKeyValue(output, [
    ["id", schedule.id],
    ["project", schedule.project_id],
    ["runs", `daily at ${pad(schedule.cron_hour)}:${pad(schedule.cron_minute)} UTC`],
    ["active", schedule.is_active ? "yes" : "no (paused)"],
    // The server's next_run_at; computed locally only for a server that predates it.
    [
      "next run",
      schedule.next_run_at
        ? humanTime(schedule.next_run_at)
        : schedule.is_active
          ? humanTime(nextRun(schedule.cron_hour, schedule.cron_minute).toISOString())
          : "-",
    ],
    ["retention", `${schedule.retention_days} days`],
    ["label", schedule.label],
    ["last run", humanTime(schedule.last_run_at)],
    ["last job", schedule.last_job_id],
    ["updated", humanTime(schedule.updated_at)],
  ]);
}

interface SetOptions {
  hour: number;
  minute: number;
  retentionDays?: number;
  label?: string;
  inactive?: boolean;
}

export function registerSchedule(program: Command, env: CliEnvironment): void {
  const schedule = program.command("schedule").description("the project's daily backup schedule");

  schedule
    .command("get")
    .description("show the project's backup schedule")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().scheduledBackups.list.query({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.scheduled_backups.length === 0) {
          return ctx.output.out("no schedule set; create one with: capy schedule set --hour H --minute M");
        }
        result.scheduled_backups.forEach((item, index) => {
          if (index > 0) ctx.output.out("");
          printSchedule(ctx.output, item);
        });
      }),
    );

  schedule
    .command("set")
    .description("create or replace the daily backup schedule (a full replacement: omitted options take their defaults)")
    .requiredOption("--hour <H>", "hour of the daily backup, UTC (0-23)", intParser("--hour", 0, 23))
    .requiredOption("--minute <M>", "minute of the daily backup (0-59)", intParser("--minute", 0, 59))
    .option("--retention-days <N>", "days a scheduled backup is kept (1-365; server default 7)", intParser("--retention-days", 1, 365))
    .option("--label <label>", "label given to scheduled backups")
    .option("--inactive", "save the schedule paused")
    .action(
      withContext<[], SetOptions>(env, async (ctx, options) => {
        const result = await ctx.client().scheduledBackups.putDefault.mutate({
          id: ctx.projectId(),
          cron_hour: options.hour,
          cron_minute: options.minute,
          is_active: !options.inactive,
          ...(options.retentionDays !== undefined ? { retention_days: options.retentionDays } : {}),
          ...(options.label !== undefined ? { label: options.label } : {}),
        });
        if (ctx.output.json) return printJson(ctx.output, result);
        printSchedule(ctx.output, result.scheduled_backup);
      }),
    );
}
