import { AuditEvent } from "@capy/contracts";
import { z } from "zod";
import { serializeAuditEvent } from "../../serializers.js";
import { requireOrganization } from "../../services/api-keys.js";
import { listAuditEvents } from "../../services/audit.js";
import { scopedProcedure } from "../../trpc.js";
import { organizationId } from "../fields.js";

export const ListAuditEventsInput = z.object({
  orgID: organizationId,
  limit: z.int().min(1).max(500).default(100).describe("Most events to return (1-500, default 100)"),
});
export const ListAuditEventsOutput = z.object({ audit_events: z.array(AuditEvent) });

// Reading the audit log is an organization-management permission: api_keys:read, held by
// organization keys and admin sessions only (project keys cannot hold it).
export const listAuditEventsProcedure = scopedProcedure("api_keys:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/organizations/{orgID}/audit-events",
      operationId: "listAuditEvents",
      tags: ["audit"],
      summary: "List the organization's audit events, newest first",
      description: "Key creation and revocation, backups created and downloaded, schedule changes.",
      protect: true,
    },
  })
  .input(ListAuditEventsInput)
  .output(ListAuditEventsOutput)
  .query(async ({ ctx, input }) => {
    const orgId = requireOrganization(ctx.principal, input.orgID);
    const events = await listAuditEvents(ctx.db, orgId, input.limit);
    return { audit_events: events.map(serializeAuditEvent) };
  });
