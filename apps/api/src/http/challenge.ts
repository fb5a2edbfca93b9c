// Every 401 tells the client how to authenticate (RFC 9110 §11.6.1): `WWW-Authenticate: Bearer`,
// whichever layer refused it. Each place that answers a refusal adds it: the REST routes' error
// answer, Fastify's error handler (plain routes and hooks) and native tRPC's responseMeta. Not an
// onSend hook: that ran on every answer, though only refusals need it (an empty onSend hook cost
// bare Fastify ~8 µs of CPU per request: medians of 7 alternated runs under autocannon). A route
// that sets its own challenge (the operator dashboard's realm) keeps it.
import type { FastifyReply } from "fastify";

export const BEARER_CHALLENGE = 'Bearer realm="capy-backups"';

/** `reply`, with the challenge when the answer being built is a 401 that has none yet. */
export function withChallenge(reply: FastifyReply): FastifyReply {
  if (reply.statusCode === 401 && !reply.hasHeader("www-authenticate")) reply.header("www-authenticate", BEARER_CHALLENGE);
  return reply;
}

/**
 * The native tRPC adapter writes its answers past Fastify's onSend hooks: its responseMeta adds
 * the challenge when a call was refused for want of a credential.
 */
export function trpcChallengeMeta({ errors }: { errors: readonly { code: string }[] }): { headers?: Record<string, string> } {
  return errors.some((error) => error.code === "UNAUTHORIZED") ? { headers: { "www-authenticate": BEARER_CHALLENGE } } : {};
}
