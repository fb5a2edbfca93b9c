// The process logger: JSON lines on stdout. Fastify derives a child per request carrying reqId.
// Credentials are redacted wherever a request's headers get logged.
import { hostname } from "node:os";
import { type Logger, pino } from "pino";
import type { Config } from "./env.js";

const REDACTED_PATHS = ["req.headers.authorization", 'req.headers["x-api-key"]', "headers.authorization", 'headers["x-api-key"]'];

export function createLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "logPretty">>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: "capy-api", pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    // `pnpm dev` (LOG_PRETTY=1): readable lines through pino-pretty, in a worker thread.
    ...(config.logPretty
      ? // reqId too: it would take a line of its own under every request's line.
        { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service,reqId" } } }
      : {}),
  });
}
