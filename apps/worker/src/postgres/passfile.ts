// The password reaches pg_dump through a libpq password file (PGPASSFILE), never through argv
// (visible in `ps`) or PGPASSWORD (visible in /proc/<pid>/environ). The file lives in a private
// directory (mkdtemp, 0700) with mode 0600, exists only while the child runs, and is removed
// whatever happens.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConfigurationError } from "../failures/errors.js";

/** Escapes `\` and `:` as libpq's password file format requires. */
export function escapePassfileField(value: string): string {
  return value.replace(/[\\:]/g, "\\$&");
}

/**
 * One password-file line for `user`. Host, port and database are wildcards: the file serves a
 * single connection, so there is nothing to tell apart, and wildcards avoid libpq's host
 * matching rules (a socket connection matches as "localhost", not as its directory).
 */
export function passfileLine(user: string, password: string): string {
  if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) {
    throw new ConfigurationError("a database user or password containing a line break cannot be given to pg_dump");
  }
  return `*:*:*:${escapePassfileField(user)}:${escapePassfileField(password)}\n`;
}

/**
 * Runs `work` with the path of a private password file for `user`. Without a password the
 * file is empty, so libpq never falls back to the worker user's own ~/.pgpass.
 */
export async function withPassfile<T>(user: string, password: string | null, work: (file: string) => Promise<T>): Promise<T> {
  const contents = password === null ? "" : passfileLine(user, password);
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-pgpass-"));
  try {
    const file = path.join(dir, "pgpass");
    await writeFile(file, contents, { mode: 0o600, flag: "wx" });
    return await work(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
