// The REST operations the router declares (meta.openapi), read once from the router so the REST
// adapter and the OpenAPI document agree on each operation's success status.

import type { Scope } from "@capy/contracts";
import { procedures } from "./procedures.js";
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

export const restOperations: readonly RestOperation[] = [...procedures].flatMap(([procedure, definition]) => {
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
