// Input fields of the webhook procedures.
import { z } from "zod";
import { organizationId } from "../fields.js";

export const webhookPath = { orgID: organizationId, webhookID: z.string().min(1).describe("Webhook id (`whk_…`)") };

export const webhookUrl = z.string().min(1).max(2_048).describe("https URL receiving POSTs (public addresses only)");
export const webhookEvents = z
  .array(z.string().min(1))
  .min(1)
  .max(50)
  .describe('Event types to deliver (job.completed, job.failed, job.canceled, backup.completed, …), or ["*"] for all');
export const webhookDescription = z.string().trim().max(500).nullable().describe("Free-form description, up to 500 characters");
