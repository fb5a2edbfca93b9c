// Structured JSON logs on stdout (pino). Job lines come from child loggers carrying job_id.
import { withoutRedisCommands } from "@capy/queue";
import { type Logger, pino } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines through pino-pretty (a worker thread) instead of JSON; for `pnpm dev`. */
  pretty?: boolean;
}

export function createLogger(level: string, base: Record<string, unknown>, options: LoggerOptions = {}): Logger {
  return pino({
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    // A Redis error's failed command holds REDIS_URL's password when Redis refused the login.
    serializers: { err: (error: Error) => withoutRedisCommands(pino.stdSerializers.err(error)) },
    // pino rejects custom level formatters with transports; pino-pretty shows labels anyway.
    ...(options.pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } }
      : { formatters: { level: (label: string) => ({ level: label }) } }),
  });
}
