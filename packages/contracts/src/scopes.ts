import { z } from "zod";

export const SCOPES = [
  "backups:read",
  "backups:write",
  "jobs:read",
  "projects:read",
  "api_keys:read",
  "api_keys:write",
  "credentials:read",
  "webhooks:read",
  "webhooks:write",
] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

/**
 * Scopes a project-scoped key may hold: everything that acts on one project. With the webhook
 * scopes it manages only webhooks whose project_id is its project (and receives its events only).
 */
export const PROJECT_SCOPES: readonly Scope[] = [
  "backups:read",
  "backups:write",
  "jobs:read",
  "projects:read",
  "credentials:read",
  "webhooks:read",
  "webhooks:write",
];
