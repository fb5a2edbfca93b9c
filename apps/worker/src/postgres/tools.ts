// Locating the PostgreSQL client tools once, at startup: a worker that cannot run pg_dump
// should refuse to start rather than fail every job it takes.
import { findExecutable, pathDirs } from "@capy/artifact";
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
  const found = findExecutable(name, binDir ? [binDir] : pathDirs(searchPath));
  if (found !== null) return found;
  throw new ConfigurationError(binDir ? `${name} was not found in PG_BIN_DIR (${binDir})` : `${name} was not found on PATH`);
}

/** The major version in what `<tool> --version` prints ("pg_dump (PostgreSQL) 15.20" → 15). */
export function pgMajorVersion(version: string): number {
  const match = /\(PostgreSQL\) (\d+)/.exec(version);
  if (!match) throw new ConfigurationError(`cannot tell the PostgreSQL version from "${version}"`);
  return Number(match[1]);
}

/** What `<tool> --version` prints, e.g. "pg_dump (PostgreSQL) 15.20". */
export async function pgToolVersion(runner: ProcessRunner, command: string): Promise<string> {
  const result = await runner.start({ command, args: ["--version"], env: {} }, { stdout: "tail" }).done;
  return (result.stdoutTail ?? "").trim();
}
