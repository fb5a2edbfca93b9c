import { Event } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeEvent } from "../../serializers.js";
import { listEvents } from "../../services/events.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const ListEventsInput = z.object({
  id: projectId,
  limit: z.int().min(1).max(100).default(25).describe("Most events to return (1-100, default 25)"),
  after: z.string().startsWith("evt_").optional().describe("An event id (`evt_…`): only the events committed after it"),
});
export const ListEventsOutput = z.object({ events: z.array(Event) });

export const listEventsProcedure = scopedProcedure("jobs:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/events",
      operationId: "listEvents",
      tags: ["events"],
      summary: "List the project's events, newest first",
      description:
        "Job and backup outcomes (job.completed, job.failed, job.canceled, backup.completed, backup.verification_failed, " +
        "backup.deleted), each holding the Job or Backup as it was when the change committed. Without `after`: the newest " +
        "`limit` events. With `after`: the `limit` events committed right after that event, still newest first; to catch " +
        "up, pass the newest id received until a page comes back empty.",
      protect: true,
    },
  })
  .input(ListEventsInput)
  .output(ListEventsOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.db, ctx.principal, input.id);
    const events = await listEvents(ctx.db, project, input.limit, input.after);
    return { events: events.map(serializeEvent) };
  });
