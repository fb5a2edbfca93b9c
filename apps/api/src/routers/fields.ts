// Input fields shared by several procedures.
import { z } from "zod";

export const projectId = z.string().min(1).describe("Project id (`prj_…`)");

export const label = z.string().trim().max(200).nullable().describe("Free-form label, up to 200 characters");

/**
 * A JSON body field validated exactly as sent. The REST routes (http/rest.ts, as
 * trpc-to-openapi's adapter did) switch on z.coerce for every number and boolean field of an
 * input, request bodies included, which would turn
 * `"is_active": "false"` into true and `null` into 0. It leaves pipes alone, so body fields of
 * those types go through this identity pipe.
 */
export function exact<T extends z.ZodType>(schema: T) {
  return schema.pipe(z.transform((value: z.output<T>) => value));
}

export const organizationId = z.string().min(1).describe("Organization id (`org_…`)");

export const previewId = z.string().min(1).describe("Preview database id (`pvw_…`)");
