// Scheduled backups. Each project has one schedule, "default", replaced as a whole by PUT.
// Firing schedules is the scheduler's job; here they are only stored.
import { newId, type Db, type Project, type ScheduledBackup } from "@capy/db";

export const DEFAULT_SCHEDULE = "default";

export interface ScheduleSettings {
  cronHour: number;
  cronMinute: number;
  isActive: boolean;
  retentionDays: number;
  label: string | null;
}

export function listSchedules(db: Db, project: Project): Promise<ScheduledBackup[]> {
  return db.scheduledBackup.findMany({ where: { projectId: project.id }, orderBy: { createdAt: "asc" } });
}

/** Creates or replaces the project's default schedule; unique (project_id, name) keeps it one row. */
export function putDefaultSchedule(db: Db, project: Project, settings: ScheduleSettings): Promise<ScheduledBackup> {
  return db.scheduledBackup.upsert({
    where: { projectId_name: { projectId: project.id, name: DEFAULT_SCHEDULE } },
    create: {
      id: newId("sch"),
      organizationId: project.organizationId,
      projectId: project.id,
      name: DEFAULT_SCHEDULE,
      ...settings,
    },
    update: settings,
  });
}
