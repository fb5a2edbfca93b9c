// Structured JSON logs on stdout (pino). Job lines come from child loggers carrying job_id.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, base: Record<string, unknown>): Logger {
  return pino({
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
