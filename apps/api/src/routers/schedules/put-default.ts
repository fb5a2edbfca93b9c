import { ScheduledBackup } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeSchedule } from "../../serializers.js";
import { recordAudit } from "../../services/audit.js";
import { putDefaultSchedule } from "../../services/schedules.js";
import { scopedProcedure } from "../../trpc.js";
import { exact, label, projectId } from "../fields.js";

export const PutDefaultScheduleInput = z.strictObject({
  id: projectId,
  cron_hour: exact(z.int().min(0).max(23)).describe("Hour of the daily backup, UTC (0-23)"),
  cron_minute: exact(z.int().min(0).max(59)).describe("Minute of the daily backup (0-59)"),
  is_active: exact(z.boolean()).describe("Whether the schedule fires"),
  retention_days: exact(z.int().min(1).max(365).default(7)).describe("Days a scheduled backup is kept (1-365, default 7)"),
  label: label.optional(),
});
export const PutDefaultScheduleOutput = z.object({ scheduled_backup: ScheduledBackup });

export const putDefaultScheduleProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "PUT",
      path: "/projects/{id}/scheduled-backups/default",
      operationId: "putDefaultScheduledBackup",
      tags: ["scheduled backups"],
      summary: "Create or replace the project's daily backup schedule",
      description: "A full replacement: omitted optional fields take their defaults (retention_days 7, label null).",
      protect: true,
    },
  })
  .input(PutDefaultScheduleInput)
  .output(PutDefaultScheduleOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const schedule = await putDefaultSchedule(ctx, project, {
      cronHour: input.cron_hour,
      cronMinute: input.cron_minute,
      isActive: input.is_active,
      retentionDays: input.retention_days,
      label: input.label ?? null,
    });
    await recordAudit(ctx, ctx.principal, {
      action: "schedule.updated",
      targetType: "schedule",
      targetId: schedule.id,
      projectId: project.id,
      metadata: {
        cron_hour: schedule.cronHour,
        cron_minute: schedule.cronMinute,
        is_active: schedule.isActive,
        retention_days: schedule.retentionDays,
        label: schedule.label,
      },
    });
    return { scheduled_backup: serializeSchedule(schedule) };
  });
