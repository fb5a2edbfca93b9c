// The one application router, served as native tRPC at /trpc and as REST at /v1.
import { apiKeysRouter } from "./routers/api-keys/index.js";
import { auditRouter } from "./routers/audit/index.js";
import { backupsRouter } from "./routers/backups/index.js";
import { encryptionRouter } from "./routers/encryption/index.js";
import { eventsRouter } from "./routers/events/index.js";
import { jobsRouter } from "./routers/jobs/index.js";
import { meRouter } from "./routers/me/index.js";
import { previewsRouter } from "./routers/previews/index.js";
import { projectsRouter } from "./routers/projects/index.js";
import { restoresRouter } from "./routers/restores/index.js";
import { schedulesRouter } from "./routers/schedules/index.js";
import { webhooksRouter } from "./routers/webhooks/index.js";
import { router } from "./trpc.js";

export const appRouter = router({
  scheduledBackups: schedulesRouter,
  backups: backupsRouter,
  jobs: jobsRouter,
  events: eventsRouter,
  me: meRouter,
  projects: projectsRouter,
  apiKeys: apiKeysRouter,
  auditEvents: auditRouter,
  restores: restoresRouter,
  previewDatabases: previewsRouter,
  webhooks: webhooksRouter,
  encryption: encryptionRouter,
});

export type AppRouter = typeof appRouter;
