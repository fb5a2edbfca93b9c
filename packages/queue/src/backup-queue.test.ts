// The backup queue's coalesced adds, against a real Redis: the adds of one turn of the event loop
// leave in one socket write, and every one of them is in Redis once their replies are in.
import type { Socket } from "node:net";
import { BACKUP_QUEUE } from "@capy/contracts";
import { createTestRedis, type TestRedis } from "@capy/testing";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackupQueue, coalesceAdds, createBackupQueue } from "./backup-queue.js";
import { createProducerConnection } from "./connection.js";

let testRedis: TestRedis;
let connection: Redis;
let queue: BackupQueue;

beforeAll(async () => {
  testRedis = createTestRedis();
  connection = createProducerConnection({ url: testRedis.url, prefix: testRedis.prefix });
  queue = createBackupQueue(connection, testRedis.prefix);
  // ioredis sends a script whole (EVAL) the first time it is used on a socket, its hash after:
  // the first add is not the turn measured.
  await queue.add("backup", { jobId: "job_warm" }, { jobId: "job_warm" });
});

afterAll(async () => {
  await queue.close();
  connection.disconnect();
  await testRedis.cleanup();
});

/** How many times the socket is written to (Node's _write per chunk, _writev per corked batch) while `act` runs. */
async function socketWrites(socket: Socket, act: () => Promise<unknown>): Promise<number> {
  const counted = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
  const { _write, _writev } = counted;
  let writes = 0;
  counted._write = (...args) => {
    writes++;
    _write.apply(socket, args);
  };
  counted._writev = (...args) => {
    writes++;
    _writev.apply(socket, args);
  };
  try {
    await act();
  } finally {
    counted._write = _write;
    counted._writev = _writev;
  }
  return writes;
}

describe("coalesced adds", () => {
  it("send the adds of one turn in one socket write, and each job is in Redis", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `job_turn_${i}`);
    const add = (id: string) => {
      coalesceAdds(queue);
      return queue.add("backup", { jobId: id }, { jobId: id });
    };
    const writes = await socketWrites(connection.stream as Socket, () => Promise.all(ids.map(add)));
    expect(writes).toBe(1);
    const stored = await Promise.all(ids.map((id) => queue.getJob(id)));
    expect(stored.map((job) => job?.data.jobId)).toEqual(ids);
    expect(await connection.llen(`${testRedis.prefix}:${BACKUP_QUEUE}:wait`)).toBe(ids.length + 1);
  });
});
