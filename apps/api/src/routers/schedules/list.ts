import { ScheduledBackup } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeSchedule } from "../../serializers.js";
import { listSchedules } from "../../services/schedules.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const ListSchedulesInput = z.object({ id: projectId });
export const ListSchedulesOutput = z.object({ scheduled_backups: z.array(ScheduledBackup) });

export const listSchedulesProcedure = scopedProcedure("backups:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/scheduled-backups",
      operationId: "listScheduledBackups",
      tags: ["scheduled backups"],
      summary: "List the project's backup schedules",
      protect: true,
    },
  })
  .input(ListSchedulesInput)
  .output(ListSchedulesOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const schedules = await listSchedules(ctx.db, project);
    return { scheduled_backups: schedules.map((schedule) => serializeSchedule(schedule)) };
  });
