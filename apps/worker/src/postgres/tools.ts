// Locating the PostgreSQL client tools once, at startup: a worker that cannot run pg_dump
// should refuse to start rather than fail every job it takes.
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { ConfigurationError } from "../failures/errors.js";
import type { ProcessRunner } from "../process/run.js";

export type PgTool = "pg_dump" | "pg_restore";

export interface ToolSearch {
  /** PG_BIN_DIR: when set, the only place looked at. */
  binDir: string | undefined;
  /** PATH, searched otherwise. */
  searchPath: string;
}

/** The absolute path of an executable `name`. */
export function resolvePgTool(name: PgTool, { binDir, searchPath }: ToolSearch): string {
  const dirs = binDir ? [binDir] : searchPath.split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.resolve(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new ConfigurationError(binDir ? `${name} was not found in PG_BIN_DIR (${binDir})` : `${name} was not found on PATH`);
}

/** What `<tool> --version` prints, e.g. "pg_dump (PostgreSQL) 15.20". */
export async function pgToolVersion(runner: ProcessRunner, command: string): Promise<string> {
  const result = await runner.start({ command, args: ["--version"], env: {} }, { stdout: "tail" }).done;
  return (result.stdoutTail ?? "").trim();
}
