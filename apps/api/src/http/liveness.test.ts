// The server factory in front of Fastify (liveness.ts): it answers /healthz itself only while the
// server is open, hands every other request to Fastify, and keeps Fastify's server timeouts.

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { livenessServerFactory } from "./liveness.js";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listening(isClosing: () => boolean, options: { keepAliveTimeout?: number } = {}): Promise<string> {
  app = Fastify({ ...options, serverFactory: livenessServerFactory(isClosing) });
  app.get("/healthz", async () => ({ status: "fastify" }));
  app.get("/other", async () => ({ status: "fastify" }));
  app.post("/healthz", async () => ({ status: "fastify" }));
  return app.listen({ host: "127.0.0.1", port: 0 });
}

const statusAt = async (url: string, init?: RequestInit) => ((await (await fetch(url, init)).json()) as { status: string }).status;

describe("the liveness answer in front of Fastify", () => {
  it("answers GET /healthz alone; a query string, another path or method reach Fastify", async () => {
    const base = await listening(() => false);
    expect(await statusAt(`${base}/healthz`)).toBe("ok");
    expect(await statusAt(`${base}/healthz?x=1`)).toBe("fastify");
    expect(await statusAt(`${base}/other`)).toBe("fastify");
    expect(await statusAt(`${base}/healthz`, { method: "POST" })).toBe("fastify");
  });

  it("leaves /healthz to Fastify once the server is closing", async () => {
    let closing = false;
    const base = await listening(() => closing);
    closing = true;
    expect(await statusAt(`${base}/healthz`)).toBe("fastify");
  });

  it("keeps Fastify's server timeouts, its defaults and those it is given", async () => {
    await listening(() => false);
    expect(app!.server.keepAliveTimeout).toBe(72_000);
    await app!.close();
    await listening(() => false, { keepAliveTimeout: 5_000 });
    expect(app!.server.keepAliveTimeout).toBe(5_000);
    expect(app!.server.requestTimeout).toBe(0);
  });
});
