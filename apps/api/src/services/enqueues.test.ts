// Enqueues that answers do not wait for, against a Redis server of the test's own (CLIENT PAUSE
// holds every client's writes, so it must not touch the shared server): the enqueue is still
// on its way when start() resolves, drain() waits for it, more than maxInFlight make a request
// wait for its own, and a failed one is logged without rejecting.
import { Writable } from "node:stream";
import { createBackupQueue, createProducerConnection } from "@capy/queue";
import { type PrivateRedis, startPrivateRedis } from "@capy/testing";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackgroundEnqueues } from "./enqueues.js";

const PREFIX = "capytest_enqueues";
let server: PrivateRedis;
let admin: Redis;
let connection: Redis;
let queue: ReturnType<typeof createBackupQueue>;
const lines: Record<string, unknown>[] = [];
const log = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  }),
);

beforeAll(async () => {
  server = await startPrivateRedis();
  admin = new Redis(server.url);
  connection = createProducerConnection({ url: server.url, prefix: PREFIX });
  queue = createBackupQueue(connection, PREFIX);
  // Connected, and the add script loaded, before Redis is paused.
  await queue.add("backup", { jobId: "job_warm" }, { jobId: "job_warm" });
});

afterAll(async () => {
  await queue.close();
  connection.disconnect();
  admin.disconnect();
  await server.stop();
});

const job = (id: string) => ({ id, type: "backup" });
const isQueued = async (id: string) => (await admin.exists(queue.toKey(id))) === 1;

/** Redis holds every write (BullMQ's add script included) until resumed; reads still answer. */
async function holdingWrites<T>(act: () => Promise<T>): Promise<T> {
  await admin.call("CLIENT", "PAUSE", "60000", "WRITE");
  try {
    return await act();
  } finally {
    await admin.call("CLIENT", "UNPAUSE");
  }
}

/** Whether `promise` has settled by the time Redis answers a PING sent now. */
async function settledAfterRoundTrip(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.finally(() => (settled = true));
  await admin.ping();
  return settled;
}

describe("BackgroundEnqueues", () => {
  it("resolves start() before Redis has the job; drain() waits until it does", async () => {
    const enqueues = new BackgroundEnqueues(queue);
    // Wrapped: a promise returned from `act` would be awaited inside the pause.
    const { drained } = await holdingWrites(async () => {
      await enqueues.start(job("job_held"), log);
      expect(enqueues.inFlight).toBe(1);
      expect(await isQueued("job_held")).toBe(false);
      const drained = enqueues.drain();
      expect(await settledAfterRoundTrip(drained)).toBe(false);
      return { drained };
    });
    await drained;
    expect(await isQueued("job_held")).toBe(true);
    expect(enqueues.inFlight).toBe(0);
    expect(lines).toEqual([]);
  });

  it("makes a request wait for its own enqueue beyond maxInFlight", async () => {
    const enqueues = new BackgroundEnqueues(queue, 1);
    const { second } = await holdingWrites(async () => {
      await enqueues.start(job("job_first"), log);
      const second = enqueues.start(job("job_second"), log);
      expect(await settledAfterRoundTrip(second)).toBe(false);
      return { second };
    });
    await second;
    expect(await isQueued("job_second")).toBe(true);
    await enqueues.drain();
    expect(await isQueued("job_first")).toBe(true);
  });

  it("logs an enqueue that failed and leaves the job to the reconciler, without rejecting", async () => {
    const enqueues = new BackgroundEnqueues(queue);
    await server.kill();
    await enqueues.start(job("job_lost"), log);
    await enqueues.drain();
    expect(enqueues.inFlight).toBe(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, jobId: "job_lost", msg: "enqueue failed; the job stays pending for the reconciler" }));
  });
});
