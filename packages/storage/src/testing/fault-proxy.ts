// An HTTP proxy between S3Storage and the test server that can break chosen upload requests the
// way a faulty network or store would: flip a byte of the body (bytes altered in transit), answer
// 500 InternalError, drop the connection, or take the request and never answer (a hung store). It also logs every S3 operation that passes, so tests
// can see what the client sent (PutObject vs multipart, the AbortMultipartUpload, …).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Transform } from "node:stream";

export type FaultKind = "corrupt-body" | "server-error" | "connection-reset" | "no-response";

export interface UploadFault {
  kind: FaultKind;
  /** Which upload request to break: a PutObject, or the UploadPart with this part number. */
  target: "PutObject" | { partNumber: number };
}

export interface LoggedRequest {
  method: string;
  /** The SDK's operation name (its x-id query parameter) or, without one, a description of the query. */
  operation: string;
  partNumber?: number;
  /** The x-amz-checksum-sha256 header (base64), if sent. */
  checksumSha256?: string;
  /** The x-amz-checksum-algorithm header of a CreateMultipartUpload, if sent. */
  checksumAlgorithm?: string;
  /** The content-encoding header (e.g. "aws-chunked"), if sent. */
  contentEncoding?: string;
}

export interface FaultProxy {
  endpoint: string;
  /** Breaks every matching request (so the SDK's retries fail too) until `clear()`. */
  inject(fault: UploadFault): void;
  clear(): void;
  /** Requests seen since the last `clear()`. */
  readonly log: readonly LoggedRequest[];
  close(): Promise<void>;
}

/** Offset of the byte flipped by "corrupt-body", inside the smallest part or object the tests send. */
const CORRUPT_OFFSET = 1000;

export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  let faults: UploadFault[] = [];
  let log: LoggedRequest[] = [];

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://proxy");
    const partNumber = url.searchParams.has("partNumber") ? Number(url.searchParams.get("partNumber")) : undefined;
    const operation = url.searchParams.get("x-id") ?? describeQuery(request.method ?? "", url);
    const checksumSha256 = request.headers["x-amz-checksum-sha256"];
    const checksumAlgorithm = request.headers["x-amz-checksum-algorithm"];
    const contentEncoding = request.headers["content-encoding"];
    log.push({
      method: request.method ?? "",
      operation,
      ...(partNumber !== undefined && { partNumber }),
      ...(typeof checksumSha256 === "string" && { checksumSha256 }),
      ...(typeof checksumAlgorithm === "string" && { checksumAlgorithm }),
      ...(contentEncoding !== undefined && { contentEncoding }),
    });
    const fault = faults.find((candidate) =>
      candidate.target === "PutObject" ? operation === "PutObject" : operation === "UploadPart" && partNumber === candidate.target.partNumber,
    );

    if (fault?.kind === "connection-reset") {
      request.socket.destroy();
      return;
    }
    if (fault?.kind === "no-response") {
      request.resume(); // read the body, answer nothing; close() ends the connection
      return;
    }
    if (fault?.kind === "server-error") {
      request.resume();
      request.on("end", () => {
        response.writeHead(500, { "content-type": "application/xml" });
        response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>');
      });
      return;
    }

    // The SDK's "Expect: 100-continue" was already answered by this server; do not forward it.
    const { expect: _expect, ...headers } = request.headers;
    const upstream = http.request({ host: "127.0.0.1", port: upstreamPort, method: request.method, path: request.url, headers }, (upstreamResponse) => {
      response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      upstreamResponse.pipe(response);
    });
    upstream.on("error", (error) => response.destroy(error));
    (fault?.kind === "corrupt-body" ? request.pipe(flipByteAt(CORRUPT_OFFSET)) : request).pipe(upstream);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(fault) {
      faults.push(fault);
    },
    clear() {
      faults = [];
      log = [];
    },
    get log() {
      return log;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function describeQuery(method: string, url: URL): string {
  if (method === "POST" && url.searchParams.has("uploads")) return "CreateMultipartUpload";
  if (method === "POST" && url.searchParams.has("uploadId")) return "CompleteMultipartUpload";
  if (method === "PUT" && url.searchParams.has("tagging")) return "PutObjectTagging";
  return `${method} ${[...url.searchParams.keys()].join("&")}`;
}

/** Passes bytes through, inverting the one at `offset`: same length, different content. */
function flipByteAt(offset: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (offset >= seen && offset < seen + chunk.length) {
        const copy = Buffer.from(chunk);
        copy[offset - seen] = copy[offset - seen]! ^ 0xff;
        chunk = copy;
      }
      seen += chunk.length;
      done(null, chunk);
    },
  });
}
