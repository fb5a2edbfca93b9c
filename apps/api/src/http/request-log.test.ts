// RequestLog's branch for a response that failed: a Fastify server of its own (the API's logger
// options do not matter here), whose route breaks its own response, so Node's ServerResponse
// emits 'error' and Fastify hands the error to the log controller. The completed line of every
// other request is covered against the built API (logger.test.ts, server.test.ts).
import { Writable } from "node:stream";
import { waitFor } from "@capy/testing";
import Fastify from "fastify";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { RequestLog } from "./request-log.js";

/** Larger than the kernel's socket buffers on both ends of a loopback connection (bytes). */
const LARGE_BODY_BYTES = 64 * 1024 * 1024;

/** A server logging with RequestLog into `lines`, with one route whose response fails on the way out. */
function serverLoggingTo(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: "info" }, destination), logController: new RequestLog(false) });
  app.get("/broken", (_request, reply) => {
    // A write after end: the response emits ERR_STREAM_WRITE_AFTER_END before it finishes (its
    // body, larger than the loopback socket's buffers, is still being sent).
    reply.hijack();
    reply.raw.end(Buffer.alloc(LARGE_BODY_BYTES, "a"));
    reply.raw.write("too late");
  });
  app.get("/fine", () => ({ ok: true }));
  return app;
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

describe("a request whose response failed", () => {
  it("gets one line at error level, with its request, status, duration and the error", async () => {
    const lines: Record<string, unknown>[] = [];
    const app = serverLoggingTo(lines);
    close = () => app.close();
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

    expect((await (await fetch(`${base}/broken`)).arrayBuffer()).byteLength).toBe(LARGE_BODY_BYTES);
    await (await fetch(`${base}/fine`)).json();

    const linesOf = (url: string) => lines.filter((line) => (line.req as { url?: string } | undefined)?.url === url);
    await waitFor(() => linesOf("/fine").length > 0, { timeoutMs: 5_000, what: "the line of GET /fine" });
    const broken = linesOf("/broken");
    expect(broken).toHaveLength(1);
    expect(broken[0]).toMatchObject({
      level: 50,
      msg: "request errored",
      req: { method: "GET", url: "/broken" },
      res: { statusCode: 200 },
      err: { code: "ERR_STREAM_WRITE_AFTER_END" },
    });
    expect(broken[0]!.responseTime).toEqual(expect.any(Number));
    // The other request's line is the ordinary one.
    expect(linesOf("/fine")[0]).toMatchObject({ level: 30, msg: "request completed" });
  });
});
