// Locating the executables a pipeline runs (zstd; the worker also finds pg_dump/pg_restore this
// way), once, at start-up: a process that cannot run them should refuse to start rather than
// fail every backup or download.
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import type { AgeTools } from "./age.js";

/** The absolute path of an executable `name` in the first of `dirs` that has one, or null. */
export function findExecutable(name: string, dirs: readonly string[]): string | null {
  for (const dir of dirs) {
    const candidate = path.resolve(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** The directories of a PATH value. */
export function pathDirs(searchPath: string): string[] {
  return searchPath.split(path.delimiter).filter(Boolean);
}

/** The absolute path of `zstd` on `searchPath`; throws with how to install it when missing. */
export function resolveZstd(searchPath: string): string {
  const found = findExecutable("zstd", pathDirs(searchPath));
  if (found === null) {
    throw new Error("zstd was not found on PATH: it compresses new backups and decompresses zstd artifacts; install it (Debian/Ubuntu: apt-get install zstd)");
  }
  return found;
}

/**
 * The absolute paths of `age` (encrypts new backups, decrypts age artifacts) and `mkfifo` (the
 * identity's pipe) on `searchPath`; throws with how to install them when missing.
 */
export function resolveAge(searchPath: string): AgeTools {
  const dirs = pathDirs(searchPath);
  const age = findExecutable("age", dirs);
  if (age === null) {
    throw new Error("age was not found on PATH: it encrypts new backups and decrypts encrypted artifacts; install it (Debian/Ubuntu: apt-get install age)");
  }
  const mkfifo = findExecutable("mkfifo", dirs);
  if (mkfifo === null) throw new Error("mkfifo was not found on PATH: decrypting an artifact needs it (coreutils)");
  return { age, mkfifo };
}
