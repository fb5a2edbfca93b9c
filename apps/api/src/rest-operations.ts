// The REST operations the router declares (meta.openapi), read once from the router so the REST
// adapter and the OpenAPI document agree on each operation's success status.

import type { Scope } from "@capy/contracts";
import type { AnyProcedure } from "@trpc/server";
import { appRouter } from "./router.js";
import type { Meta } from "./trpc.js";

export interface RestOperation {
  /** tRPC procedure path, e.g. "backups.create". */
  procedure: string;
  operationId: string | undefined;
  successStatus: number;
  /** The scope the procedure requires; undefined for any authenticated caller (e.g. /v1/me). */
  scope: Scope | undefined;
  /** HTTP method and path under /v1 in OpenAPI form, e.g. "GET", "/jobs/{jobID}". */
  method: string;
  path: string;
}

// tRPC types `_def.procedures` as the nested record, but it holds every procedure by full path.
const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;

export const restOperations: readonly RestOperation[] = Object.entries(procedures).flatMap(([procedure, definition]) => {
  const meta = definition._def.meta as Meta | undefined;
  if (!meta?.openapi) return [];
  return [
    {
      procedure,
      operationId: meta.openapi.operationId,
      successStatus: meta.successStatus ?? 200,
      scope: meta.scope,
      method: meta.openapi.method,
      path: meta.openapi.path,
    },
  ];
});
