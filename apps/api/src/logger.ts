// The process logger: JSON lines on stdout. Fastify derives a child per request carrying reqId.
// Credentials are redacted wherever a request's headers get logged, and in its URL's query.
import { hostname } from "node:os";
import { withoutRedisCommands } from "@capy/queue";
import type { FastifyRequest } from "fastify";
import { type Logger, pino } from "pino";
import type { Config } from "./env.js";

// A logged request (`req`) carries no headers (requestFields); these catch headers logged as such.
const REDACTED_PATHS = ["headers.authorization", 'headers["x-api-key"]'];

/** Query parameters whose values are credentials (the queue dashboard's `?token=`), by lower-case name. */
const SECRET_QUERY_PARAMETERS = new Set(["token", "access_token", "api_key", "apikey", "key", "secret", "password", "signature"]);

/**
 * `url` (a request's path and query, as received) with the values of credential parameters
 * replaced by "[redacted]"; unchanged when it has none. Names are compared decoded, as the
 * routes read them (`?%74oken=` is `token`).
 */
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf("?");
  if (queryAt === -1) return url;
  const isSecret = (name: string) => SECRET_QUERY_PARAMETERS.has(name.toLowerCase());
  const parameters = [...new URLSearchParams(url.slice(queryAt + 1))];
  if (!parameters.some(([name]) => isSecret(name))) return url;
  const query = parameters.map(([name, value]) => `${encodeURIComponent(name)}=${isSecret(name) ? "[redacted]" : encodeURIComponent(value)}`);
  return `${url.slice(0, queryAt)}?${query.join("&")}`;
}

/** A request as Fastify logs it (its own serializer's fields), its URL through loggableUrl. */
function requestFields(request: FastifyRequest) {
  return { method: request.method, url: loggableUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket.remotePort };
}

export function createLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "logPretty">>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: "capy-api", pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    // In place of Fastify's own `req` serializer (it takes the logger's over its own), which logs
    // the URL with its query as sent: a visit to /admin/queues?token=… logged the operator token.
    // And for errors: a Redis error's failed command holds REDIS_URL's password when Redis
    // refused the login.
    serializers: { req: requestFields, err: (error: Error) => withoutRedisCommands(pino.stdSerializers.err(error)) },
    // `pnpm dev` (LOG_PRETTY=1): readable lines through pino-pretty, in a worker thread.
    ...(config.logPretty
      ? // reqId too: it would take a line of its own under every request's line.
        { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service,reqId" } } }
      : {}),
  });
}
