// Child process that runs s3rver 3.7.1 for the tests (started by s3-server.ts, which documents why
// it runs apart, with --openssl-legacy-provider). Arguments: <directory> <bucket> <"cleanup"|"stock">.
// Reports {port} over the IPC channel once listening; exits when the parent disconnects.
//
// With "cleanup", two operations that s3rver lacks are added in front of its router, implemented
// on s3rver's own on-disk layout (an upload is the directory
// <directory>/<bucket>/._S3rver_uploads/<uploadId>/ holding a `key` file and one file per part):
//   AbortMultipartUpload   DELETE /bucket/key?uploadId=…   (stock s3rver: 405 MethodNotAllowed)
//   ListMultipartUploads   GET /bucket?uploads             (stock s3rver: 501 NotImplemented)
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import S3rver from "s3rver";

const [directory, bucket, mode] = process.argv.slice(2);
if (!directory || !bucket || (mode !== "cleanup" && mode !== "stock")) {
  throw new Error("usage: s3rver-process.mjs <directory> <bucket> <cleanup|stock>");
}

const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
const uploadsDirectory = server.store.getResourcePath(bucket, undefined, "uploads");

/** Unfinished uploads on disk: { key, uploadId, initiated }. */
async function uploads() {
  const ids = await readdir(uploadsDirectory).catch((error) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const found = await Promise.all(
    ids.map(async (uploadId) => {
      const uploadDirectory = path.join(uploadsDirectory, uploadId);
      try {
        const [key, info] = await Promise.all([readFile(path.join(uploadDirectory, "key"), "utf8"), stat(uploadDirectory)]);
        return { key, uploadId, initiated: info.birthtimeMs > 0 ? info.birthtime : info.mtime };
      } catch (error) {
        if (error.code === "ENOENT") return undefined; // completed or aborted meanwhile
        throw error;
      }
    }),
  );
  return found.filter((upload) => upload !== undefined);
}

const single = (value) => (Array.isArray(value) ? value[0] : value);
const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const escapeXml = (text) => text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);

function xmlError(context, status, code, message) {
  context.status = status;
  context.type = "application/xml";
  context.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

async function multipartCleanup(context, next) {
  const [, pathBucket, ...keyParts] = context.path.split("/").map((part) => decodeURIComponent(part));
  const key = keyParts.join("/");
  if (pathBucket !== bucket) return next();
  const uploadId = single(context.query.uploadId);

  if (context.method === "DELETE" && key !== "" && uploadId !== undefined) {
    const upload = (await uploads()).find((candidate) => candidate.uploadId === uploadId && candidate.key === key);
    if (!upload) return xmlError(context, 404, "NoSuchUpload", "The specified upload does not exist.");
    await rm(path.join(uploadsDirectory, uploadId), { recursive: true, force: true });
    context.status = 204;
    return;
  }

  if (context.method === "GET" && key === "" && context.query.uploads !== undefined) {
    const prefix = single(context.query.prefix) ?? "";
    const keyMarker = single(context.query["key-marker"]) ?? "";
    const uploadIdMarker = single(context.query["upload-id-marker"]) ?? "";
    const maxUploads = Math.min(1000, Number(single(context.query["max-uploads"]) ?? 1000));
    // S3's order and marker semantics: by key, then upload id; resume after (key-marker, upload-id-marker).
    const matching = (await uploads())
      .filter((upload) => upload.key.startsWith(prefix))
      .filter((upload) => upload.key > keyMarker || (upload.key === keyMarker && upload.uploadId > uploadIdMarker))
      .sort((a, b) => (a.key === b.key ? compare(a.uploadId, b.uploadId) : compare(a.key, b.key)));
    const page = matching.slice(0, maxUploads);
    const truncated = matching.length > page.length;
    const last = page.at(-1);
    context.type = "application/xml";
    context.body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      `<Bucket>${escapeXml(bucket)}</Bucket>`,
      `<KeyMarker>${escapeXml(keyMarker)}</KeyMarker>`,
      `<UploadIdMarker>${escapeXml(uploadIdMarker)}</UploadIdMarker>`,
      truncated && last ? `<NextKeyMarker>${escapeXml(last.key)}</NextKeyMarker>` : "",
      truncated && last ? `<NextUploadIdMarker>${escapeXml(last.uploadId)}</NextUploadIdMarker>` : "",
      `<Prefix>${escapeXml(prefix)}</Prefix>`,
      `<MaxUploads>${maxUploads}</MaxUploads>`,
      `<IsTruncated>${truncated}</IsTruncated>`,
      ...page.map(
        (upload) =>
          `<Upload><Key>${escapeXml(upload.key)}</Key><UploadId>${upload.uploadId}</UploadId>` +
          `<Initiated>${upload.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
      ),
      "</ListMultipartUploadsResult>",
    ].join("");
    return;
  }

  return next();
}

if (mode === "cleanup") {
  // Koa composes `middleware` when the server starts listening; the router is its last entry.
  server.middleware.splice(server.middleware.length - 1, 0, multipartCleanup);
}
const { port } = await server.run();
process.on("disconnect", () => process.exit(0));
process.send?.({ port });
