// Enqueues that answers do not wait for, against a Redis server of the test's own (CLIENT PAUSE
// holds every client's writes, so it must not touch the shared server): the add is still on its
// way when start() resolves, drain() waits for it (but not past the timeout), beyond maxInFlight
// unanswered adds a request waits for its own, and a failure is logged without rejecting.
import { Writable } from "node:stream";
import { type BackupQueue, createBackupQueue, createProducerConnection } from "@capy/queue";
import { type PrivateRedis, startPrivateRedis, waitFor } from "@capy/testing";
import type { FastifyBaseLogger } from "fastify";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackgroundEnqueues } from "./enqueues.js";

const PREFIX = "capytest_enqueues";
const FAILED = "enqueue failed; the job stays pending for the reconciler";
let server: PrivateRedis;
let admin: Redis;
let connection: Redis;
let queue: BackupQueue;

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

/** A logger whose lines land in `lines`. */
function collectingLogger(): { log: FastifyBaseLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

const job = (id: string) => ({ id, type: "backup" });
const isQueued = async (id: string) => (await admin.exists(queue.toKey(id))) === 1;

/**
 * Redis holds every write (BullMQ's add script included) until `act` is done; reads still
 * answer. `act` returns an object: a promise returned bare would be awaited inside the pause.
 */
async function holdingWrites<T extends object>(act: () => Promise<T>): Promise<T> {
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
    const { log, lines } = collectingLogger();
    const enqueues = new BackgroundEnqueues(queue);
    const { drained } = await holdingWrites(async () => {
      await enqueues.start(job("job_held"), log);
      // Waiting for the add would have timed out (2 s) and logged it before resolving.
      expect(lines).toEqual([]);
      expect(await isQueued("job_held")).toBe(false);
      const drained = enqueues.drain();
      expect(await settledAfterRoundTrip(drained)).toBe(false);
      return { drained };
    });
    await drained;
    expect(await isQueued("job_held")).toBe(true);
    expect(lines).toEqual([]);
  });

  it("makes a request wait for its own enqueue beyond maxInFlight unanswered adds", async () => {
    const { log } = collectingLogger();
    const enqueues = new BackgroundEnqueues(queue, { timeoutMs: 30_000, maxInFlight: 1 });
    const { second } = await holdingWrites(async () => {
      expect(await settledAfterRoundTrip(enqueues.start(job("job_first"), log))).toBe(true);
      const second = enqueues.start(job("job_second"), log);
      expect(await settledAfterRoundTrip(second)).toBe(false);
      return { second };
    });
    await second;
    expect(await isQueued("job_second")).toBe(true);
    await enqueues.drain();
    expect(await isQueued("job_first")).toBe(true);
  });

  it("counts an add that timed out until Redis answers it; drain() gives up at the timeout", async () => {
    const { log, lines } = collectingLogger();
    const enqueues = new BackgroundEnqueues(queue, { timeoutMs: 50, maxInFlight: 1 });
    const { second } = await holdingWrites(async () => {
      await enqueues.start(job("job_slow"), log);
      await waitFor(() => lines.some((line) => line.jobId === "job_slow" && line.msg === FAILED), { what: "the timeout logged" });
      // Redis still holds the add: drain() returns anyway, and the next request waits for its own.
      await enqueues.drain();
      const second = enqueues.start(job("job_after"), log);
      expect(await settledAfterRoundTrip(second)).toBe(false);
      return { second };
    });
    await second;
    await waitFor(() => isQueued("job_slow"), { what: "the slow add answered" });
    expect(await isQueued("job_after")).toBe(true);
  });

  // Last: it stops the server.
  it("logs an enqueue that failed and leaves the job to the reconciler, without rejecting", async () => {
    const { log, lines } = collectingLogger();
    const enqueues = new BackgroundEnqueues(queue);
    await server.kill();
    await enqueues.start(job("job_lost"), log);
    await enqueues.drain();
    await waitFor(() => lines.length > 0, { what: "the failure logged" });
    expect(lines).toEqual([expect.objectContaining({ level: 40, jobId: "job_lost", msg: FAILED })]);
  });
});
