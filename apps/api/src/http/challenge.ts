// Every 401 tells the client how to authenticate (RFC 9110 §11.6.1): `WWW-Authenticate: Bearer`,
// whichever layer refused it (REST adapter, native tRPC, plain routes). A route that sets its own
// challenge (the operator dashboard's realm) keeps it.
import type { FastifyInstance } from "fastify";

export const BEARER_CHALLENGE = 'Bearer realm="capy-backups"';

export function registerBearerChallenge(app: FastifyInstance): void {
  // Callback-style: no promise per request.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (reply.statusCode === 401 && !reply.hasHeader("www-authenticate")) reply.header("www-authenticate", BEARER_CHALLENGE);
    done(null, payload);
  });
}

/**
 * The native tRPC adapter writes its answers past Fastify's onSend hooks: its responseMeta adds
 * the challenge when a call was refused for want of a credential.
 */
export function trpcChallengeMeta({ errors }: { errors: readonly { code: string }[] }): { headers?: Record<string, string> } {
  return errors.some((error) => error.code === "UNAUTHORIZED") ? { headers: { "www-authenticate": BEARER_CHALLENGE } } : {};
}
