// Local-filesystem storage under one root directory. Writes go to a temporary file beside the
// target and are renamed into place after fsync, so a reader never sees a partial artifact and
// a crashed writer leaves only a ".partial" file that `sweepPartials` removes.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertSha256Hex, withSha256Check } from "./integrity.js";
import { assertValidKey, isValidKey } from "./keys.js";
import { type ArtifactStorage, type GetOptions, ObjectNotFoundError, type StoredObject } from "./storage.js";

const PARTIAL_SUFFIX = ".partial";
/** What put appends to a key for its temporary file. */
const PARTIAL_NAME = /\.\d+\.[0-9a-f-]{36}\.partial$/;

/** A temporary file that `sweepPartials` removed. */
export interface SweptPartial {
  /** Path relative to the storage root, "/"-separated. */
  path: string;
  /** Last modification (the writer's last byte). */
  modified: Date;
}

export class FilesystemStorage implements ArtifactStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, key);
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    let target: string;
    try {
      target = this.pathOf(key);
      await mkdir(path.dirname(target), { recursive: true });
    } catch (error) {
      body.destroy();
      throw error;
    }
    // Unique per call, so concurrent puts of one key never share a temporary file.
    const temporary = `${target}.${process.pid}.${randomUUID()}${PARTIAL_SUFFIX}`;
    const hash = createHash("sha256");
    let sizeBytes = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        sizeBytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, measure, createWriteStream(temporary, { flags: "wx", mode: 0o600 }));
      const handle = await open(temporary, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { key, sizeBytes, sha256: hash.digest("hex") };
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const file = this.pathOf(key);
    if (options.expectedSha256 !== undefined) assertSha256Hex(options.expectedSha256);
    await this.size(key);
    const stream = createReadStream(file);
    return options.expectedSha256 === undefined ? stream : withSha256Check(stream, key, options.expectedSha256);
  }

  async size(key: string): Promise<number> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ObjectNotFoundError(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<string> {
    // Only the directory the prefix lies in is read, not the whole store (a claim lists one job's keys).
    const entries = await readdir(this.directoryOf(prefix), { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
      throw error;
    });
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const key = path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join("/");
      if (key.startsWith(prefix)) yield key;
    }
  }

  /**
   * Recovery sweep: removes the temporary ".partial" files of puts that never finished (their
   * writer crashed or was killed) whose last write is at least `olderThanMs` ms before `now`, and
   * returns them. A live put keeps writing its file, so any `olderThanMs` above the longest
   * pause in a dump's output spares it; the worker uses its STORAGE_SWEEP_MIN_AGE_MS.
   */
  async sweepPartials(olderThanMs: number, options: { now?: Date } = {}): Promise<SweptPartial[]> {
    const cutoffMs = (options.now ?? new Date()).getTime() - olderThanMs;
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    });
    const swept: SweptPartial[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const file = path.join(entry.parentPath, entry.name);
      const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return undefined; // renamed into place or removed meanwhile
        throw error;
      });
      if (!info || info.mtimeMs > cutoffMs) continue;
      await rm(file, { force: true });
      swept.push({ path: path.relative(this.root, file).split(path.sep).join("/"), modified: info.mtime });
    }
    return swept;
  }

  /** The deepest directory holding every key that starts with `prefix` (the root for "" or an invalid prefix). */
  private directoryOf(prefix: string): string {
    const base = prefix.endsWith("/") ? prefix.slice(0, -1) : path.posix.dirname(prefix);
    return base === "" || base === "." || !isValidKey(base) ? this.root : path.join(this.root, base);
  }

  async discardIncomplete(prefix: string, shouldDiscard: (key: string) => boolean = () => true): Promise<string[]> {
    const entries = await readdir(this.directoryOf(prefix), { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
      throw error;
    });
    const discarded: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const file = path.join(entry.parentPath, entry.name);
      // `<key>.<pid>.<uuid>.partial` (see put) names the key it was being written for.
      const key = path.relative(this.root, file).split(path.sep).join("/").replace(PARTIAL_NAME, "");
      if (!key.startsWith(prefix) || !shouldDiscard(key)) continue;
      await rm(file, { force: true });
      discarded.push(key);
    }
    return discarded;
  }

  async close(): Promise<void> {}
}
