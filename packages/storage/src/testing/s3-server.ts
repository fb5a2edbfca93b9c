// A real S3-protocol HTTP server for the tests: s3rver 3.7.1 (npm) in a child process, on a free
// port, over a temporary directory that is removed on close.
//
// Why a child process: s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 17+
// (OpenSSL 3) only offers with --openssl-legacy-provider; without it every truncated listing is a
// 500 InternalError (jamhall/s3rver#818), so S3Storage's pagination could not be tested. The flag
// can only be given when a process starts, so the server gets its own.
//
// Why `multipartCleanup` (default on): s3rver implements CreateMultipartUpload, UploadPart and
// CompleteMultipartUpload but not AbortMultipartUpload (405) nor ListMultipartUploads (501), the
// two operations that clean up failed or abandoned uploads; s3rver-process.mjs adds them over
// s3rver's own on-disk layout, and s3.test.ts pins the stock behaviour. Tests also read that
// layout directly (`pendingUploadIds`), so a leftover upload is caught without trusting the API.
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** How long the child may take to listen, ms (it starts in well under a second here). */
const START_DEADLINE_MS = 20_000;

export interface S3TestServer {
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  /** On-disk file holding the bytes stored under `objectKey` (the full key, prefix included). */
  objectPath(objectKey: string): string;
  /** Upload ids of unfinished multipart uploads for `objectKey` (or all), read from s3rver's disk. */
  pendingUploadIds(objectKey?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startS3TestServer(
  options: { bucket?: string; multipartCleanup?: boolean } = {},
): Promise<S3TestServer> {
  const bucket = options.bucket ?? "capy-test";
  const directory = await mkdtemp(path.join(tmpdir(), "capy-s3rver-"));
  const child = fork(
    fileURLToPath(new URL("./s3rver-process.mjs", import.meta.url)),
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
      const ids = await readdir(uploadsDirectory).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [] as string[];
        throw error;
      });
      const matching: string[] = [];
      for (const uploadId of ids) {
        const key = await readFile(path.join(uploadsDirectory, uploadId, "key"), "utf8").catch(() => undefined);
        if (objectKey === undefined || key === objectKey) matching.push(uploadId);
      }
      return matching;
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
