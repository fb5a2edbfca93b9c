// Reading a project's events (the outbox @capy/jobs writes), so a client can catch up without
// webhooks.
import type { Db, Event, Project } from "@capy/db";
import { listProjectEvents } from "@capy/jobs";
import { AppError } from "../errors.js";

/** Newest first; with `after`, the `limit` events committed right after it. 400 for an `after` the project does not have. */
export async function listEvents(db: Db, project: Project, limit: number, after: string | undefined): Promise<Event[]> {
  const events = await listProjectEvents(db, project.id, { limit, after });
  // Another project's event id is as unknown here as a made-up one.
  if (!events) throw new AppError("BAD_REQUEST", "after: no such event in this project");
  return events;
}
