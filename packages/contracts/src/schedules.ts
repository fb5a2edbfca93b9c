// Scheduled backups fire through BullMQ job schedulers on a queue of their own, so a burst of
// firings never waits behind (or starves) the backup jobs on BACKUP_QUEUE.
import { z } from "zod";

export const SCHEDULE_QUEUE = "capy-schedules";

/** Payload of a fired scheduler job: only the schedule; the due time is computed from Postgres. */
export const ScheduleFirePayload = z.object({ scheduleId: z.string().startsWith("sch_") });
export type ScheduleFirePayload = z.infer<typeof ScheduleFirePayload>;
