// A real S3-protocol HTTP server for the tests: s3rver 3.7.1 (npm) in a child process, on a free
// port, over a temporary directory that is removed on close. Used by @capy/storage's S3 tests,
// the end-to-end tests (API and workers configured through `server.env()`) and the benchmark.
//
// Why a child process: s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 17+
// (OpenSSL 3) only offers with --openssl-legacy-provider; without it every truncated listing is a
// 500 InternalError (jamhall/s3rver#818), so S3Storage's pagination could not be tested. The flag
// can only be given when a process starts, so the server gets its own.
//
// Why `multipartCleanup` (default on): s3rver implements CreateMultipartUpload, UploadPart and
// CompleteMultipartUpload but not AbortMultipartUpload (405) nor ListMultipartUploads (501), the
// two operations that clean up failed or abandoned uploads; s3rver-process.mjs adds them over
// s3rver's own on-disk layout, and @capy/storage's s3.test.ts pins the stock behaviour. Tests also
// read that layout directly (`pendingUploadIds`, `objectKeys`), so a leftover upload or object is
// caught without trusting the API.
//
// The child script is plain JavaScript kept in src/ (tsc does not copy .mjs files): it is found
// at ../src/s3rver-process.mjs from this module, which resolves the same from src/ and dist/.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** How long the child may take to listen, ms (it starts in well under a second here). */
const START_DEADLINE_MS = 20_000;

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  /** On-disk file holding the bytes stored under `objectKey` (the full key, prefix included). */
  objectPath(objectKey: string): string;
  /** Upload ids of unfinished multipart uploads for `objectKey` (or all), read from s3rver's disk. */
  pendingUploadIds(objectKey?: string): Promise<string[]>;
  /**
   * Unfinished multipart uploads (full keys) whose key starts with `prefix`, read from s3rver's
   * disk; `initiated` is what ListMultipartUploads reports.
   */
  pendingUploads(prefix?: string): Promise<PendingUpload[]>;
  /** Full keys of the stored (visible) objects starting with `prefix`, sorted, read from s3rver's disk. */
  objectKeys(prefix?: string): Promise<string[]>;
  /**
   * The S3_* variables that point the API and worker (`s3ConfigFromEnv`) at this server, for
   * createTestStack / startApi / startWorker.
   */
  env(options?: { keyPrefix?: string }): Record<string, string>;
  close(): Promise<void>;
}

export interface S3ServerOptions {
  /** Bucket created at start. Default "capy-test". */
  bucket?: string;
  /** Add AbortMultipartUpload and ListMultipartUploads (default true); false = stock s3rver. */
  multipartCleanup?: boolean;
}

export interface PendingUpload {
  uploadId: string;
  /** Full object key (key prefix included). */
  key: string;
  initiated: Date;
}

const OBJECT_SUFFIX = "._S3rver_object";

/**
 * Starts s3rver in a child process on a free port with one empty bucket; `close()` stops it and
 * removes its data. Point S3Storage at `endpoint` with S3RVER_CREDENTIALS and path-style URLs, or
 * hand `env()` to a test stack's API and workers.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "capy-test";
  const directory = await mkdtemp(path.join(tmpdir(), "capy-s3rver-"));
  const child = fork(
    fileURLToPath(new URL("../src/s3rver-process.mjs", import.meta.url)),
    [directory, bucket, (options.multipartCleanup ?? true) ? "cleanup" : "stock"],
    { execArgv: ["--openssl-legacy-provider"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  let port: number;
  try {
    port = await listeningPort(child);
  } catch (error) {
    child.kill();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  // s3rver's layout (lib/stores/filesystem.js): "<dir>/<bucket>/<key dirs>/<name>._S3rver_<resource>".
  const bucketDirectory = path.join(directory, bucket);
  const uploadsDirectory = path.join(bucketDirectory, "._S3rver_uploads");

  const pendingUploads = async (): Promise<PendingUpload[]> => {
    const ids = await readdir(uploadsDirectory).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [] as string[];
      throw error;
    });
    const found: PendingUpload[] = [];
    for (const uploadId of ids) {
      // Gone meanwhile (completed or aborted) or not yet written: not pending as far as we can tell.
      const directory = path.join(uploadsDirectory, uploadId);
      const [key, info] = await Promise.all([readFile(path.join(directory, "key"), "utf8").catch(() => undefined), stat(directory).catch(() => undefined)]);
      // The same start time as s3rver-process.mjs reports.
      if (key !== undefined && info) found.push({ uploadId, key, initiated: info.birthtimeMs > 0 ? info.birthtime : info.mtime });
    }
    return found;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
    objectPath(objectKey) {
      const parts = objectKey.split("/");
      const name = parts.pop();
      return path.join(bucketDirectory, ...parts, `${name}._S3rver_object`);
    },
    async pendingUploadIds(objectKey) {
      return (await pendingUploads()).filter((upload) => objectKey === undefined || upload.key === objectKey).map((upload) => upload.uploadId);
    },
    async pendingUploads(prefix = "") {
      return (await pendingUploads()).filter((upload) => upload.key.startsWith(prefix));
    },
    async objectKeys(prefix = "") {
      const entries = await readdir(bucketDirectory, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [];
        throw error;
      });
      const keys: string[] = [];
      for (const entry of entries) {
        if (!entry.isFile() || !entry.name.endsWith(OBJECT_SUFFIX)) continue;
        const file = path.relative(bucketDirectory, path.join(entry.parentPath, entry.name));
        const key = file.slice(0, -OBJECT_SUFFIX.length).split(path.sep).join("/");
        if (key.startsWith(prefix)) keys.push(key);
      }
      return keys.sort();
    },
    env(envOptions = {}) {
      return {
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_REGION: "us-east-1",
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        S3_FORCE_PATH_STYLE: "true",
        ...(envOptions.keyPrefix !== undefined && { S3_KEY_PREFIX: envOptions.keyPrefix }),
      };
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill();
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not listen within ${START_DEADLINE_MS} ms`)), START_DEADLINE_MS);
    child.once("message", (message: { port?: unknown }) => {
      clearTimeout(timer);
      if (typeof message.port === "number") resolve(message.port);
      else reject(new Error(`unexpected message from s3rver: ${JSON.stringify(message)}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal})`));
    });
  });
}
