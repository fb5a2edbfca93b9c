// The sender against real HTTP receivers on 127.0.0.1: success, error statuses, redirects not
// followed, the timeout, the response read and store caps, and the target policy enforced at
// connection time (a name that starts resolving privately after creation is refused).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkWebhookTarget, type Resolver } from "./policy.js";
import { RESPONSE_READ_LIMIT, RESPONSE_STORE_LIMIT, WebhookSender } from "./sender.js";

const open = { allowInsecure: true, allowPrivateTargets: true };
let server: Server;
let base: string;
const received: Array<{ url: string; body: string; headers: IncomingMessage["headers"] }> = [];
let bytesServed = 0;

const routes: Record<string, (res: ServerResponse) => void> = {
  "/ok": (res) => res.writeHead(204).end(),
  "/fail": (res) => res.writeHead(500).end("boom"),
  "/redirect": (res) => res.writeHead(302, { location: "/ok" }).end(),
  "/slow": (res) => setTimeout(() => res.writeHead(200).end(), 5_000),
  "/huge": (res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    // 64 MiB, written as long as the client reads; the sender must stop after 64 KiB.
    const chunk = Buffer.alloc(16 * 1024, "x");
    let left = 4_096;
    const write = () => {
      while (left > 0) {
        left -= 1;
        bytesServed += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", write);
      }
      res.end();
    };
    res.on("close", () => (left = 0));
    write();
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      received.push({ url: req.url ?? "", body, headers: req.headers });
      (routes[req.url ?? ""] ?? ((r: ServerResponse) => r.writeHead(404).end()))(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("WebhookSender", () => {
  // Generous, so a loaded machine never turns a success into a timeout; the timeout test sets its own.
  const sender = (timeoutMs = 5_000) => new WebhookSender({ policy: open, timeoutMs });

  it("posts the exact body with its headers; 2xx is a success", async () => {
    const s = sender();
    const result = await s.send(`${base}/ok`, '{"id":"evt_1"}', { "x-capydb-event": "ping" });
    await s.close();
    expect(result).toMatchObject({ ok: true, statusCode: 204, error: null, responseBody: null });
    const last = received.at(-1)!;
    expect(last.body).toBe('{"id":"evt_1"}');
    expect(last.headers["x-capydb-event"]).toBe("ping");
    expect(last.headers["content-type"]).toBe("application/json");
  });

  it("reports error statuses with the start of the body", async () => {
    const s = sender();
    const result = await s.send(`${base}/fail`, "{}", {});
    await s.close();
    expect(result).toMatchObject({ ok: false, statusCode: 500, error: "endpoint answered 500", responseBody: "boom" });
  });

  it("does not follow redirects", async () => {
    const before = received.length;
    const s = sender();
    const result = await s.send(`${base}/redirect`, "{}", {});
    await s.close();
    expect(result).toMatchObject({ ok: false, statusCode: 302 });
    expect(result.error).toMatch(/redirects are not followed/);
    expect(received.slice(before).map((r) => r.url)).toEqual(["/redirect"]);
  });

  it("gives up after the timeout", async () => {
    const s = sender(500);
    const result = await s.send(`${base}/slow`, "{}", {});
    await s.close();
    expect(result).toMatchObject({ ok: false, statusCode: null, error: "timed out after 500 ms" });
    expect(result.responseMs).toBeLessThan(4_900);
  });

  it("reads at most 64 KiB of a response and keeps 1 KiB", async () => {
    const s = sender();
    const result = await s.send(`${base}/huge`, "{}", {});
    await s.close();
    expect(result.ok).toBe(true);
    expect(result.responseBody).toBe("x".repeat(RESPONSE_STORE_LIMIT));
    // The server writes ahead of the reader into socket buffers (a few MiB on loopback), but
    // stops far short of the 64 MiB it would send to a reader that drains everything.
    expect(bytesServed).toBeGreaterThan(RESPONSE_READ_LIMIT);
    expect(bytesServed).toBeLessThan(16 * 1024 * 1024);
  });

  it("reports an unreachable endpoint", async () => {
    const s = sender();
    const result = await s.send("http://127.0.0.1:1/hook", "{}", {});
    await s.close();
    expect(result).toMatchObject({ ok: false, statusCode: null, error: "could not connect (ECONNREFUSED)" });
  });

  it("refuses, at delivery, a name that started resolving privately after creation, sending nothing", async () => {
    let answer = "93.184.216.34";
    const flipping: Resolver = async () => [{ address: answer, family: 4 }];
    const policy = { allowInsecure: true, allowPrivateTargets: false };
    const port = (server.address() as AddressInfo).port;
    const url = `http://flip.example.com:${port}/ok`;
    await expect(checkWebhookTarget(url, policy, flipping)).resolves.toBeInstanceOf(URL);
    answer = "127.0.0.1"; // the receiver's real address: it would get the request if let through
    const before = received.length;
    const s = new WebhookSender({ policy, timeoutMs: 5_000, resolve: flipping });
    const result = await s.send(url, "{}", {});
    await s.close();
    expect(result).toMatchObject({ ok: false, statusCode: null });
    expect(result.error).toBe("refused: resolves to a non-public address (127.0.0.1, loopback)");
    expect(received.length).toBe(before);
  });

  it("refuses literal private addresses at delivery without the switch", async () => {
    const before = received.length;
    const s = new WebhookSender({ policy: { allowInsecure: true, allowPrivateTargets: false }, timeoutMs: 5_000 });
    const result = await s.send(`${base}/ok`, "{}", {});
    const metadata = await s.send("http://169.254.169.254/latest/meta-data", "{}", {});
    await s.close();
    expect(result.error).toBe("refused: resolves to a non-public address (127.0.0.1, loopback)");
    expect(metadata.error).toBe("refused: resolves to a non-public address (169.254.169.254, linkLocal)");
    expect(received.length).toBe(before);
  });
});
