// Error answers at the HTTP layer: `{ "error": "<message>" }` with the mapped status, whether it
// comes from a route, a hook or Fastify itself (REST operations answer their own; http/rest.ts).

import type { ErrorBody } from "@capy/contracts";
import type { FastifyInstance } from "fastify";
import { toHttpError } from "../errors.js";
import { withChallenge } from "./challenge.js";

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, message } = toHttpError(error);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    return withChallenge(reply.status(status)).send({ error: message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: "Not found" } satisfies ErrorBody));
}
