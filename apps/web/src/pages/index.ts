// Every page of the console, in sidebar order: a new page is its file plus one line here.
import { page as apiKeys } from "./api-keys.js";
import { page as audit } from "./audit.js";
import { page as backups } from "./backups.js";
import { page as jobDetail } from "./job-detail.js";
import { page as jobs } from "./jobs.js";
import { page as previews } from "./previews.js";
import { page as projects } from "./projects.js";
import type { PageDef } from "./registry.js";
import { page as schedule } from "./schedule.js";
import { page as webhooks } from "./webhooks.js";

export const PAGES: readonly PageDef[] = [backups, previews, schedule, jobs, jobDetail, projects, apiKeys, webhooks, audit];
