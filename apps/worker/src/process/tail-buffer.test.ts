import { describe, expect, it } from "vitest";
import { OUTPUT_TAIL_BYTES, TailBuffer } from "./tail-buffer.js";

describe("TailBuffer", () => {
  it("keeps everything while under the limit", () => {
    const tail = new TailBuffer(16);
    tail.push(Buffer.from("hello "));
    tail.push(Buffer.from("world"));
    expect(tail.toString()).toBe("hello world");
    expect(tail.truncated).toBe(false);
  });

  it("keeps only the last limit bytes of many chunks", () => {
    const tail = new TailBuffer(10);
    for (const word of ["abc", "defg", "hij", "klmno", "pq"]) tail.push(Buffer.from(word));
    expect(tail.toString()).toBe("hijklmnopq");
    expect(tail.byteLength).toBe(10);
    expect(tail.truncated).toBe(true);
  });

  it("keeps the end of a single chunk larger than the limit", () => {
    const tail = new TailBuffer(4);
    tail.push(Buffer.from("0123456789"));
    expect(tail.toString()).toBe("6789");
    expect(tail.truncated).toBe(true);
  });

  it("reports no truncation when a chunk exactly fills an empty buffer", () => {
    const tail = new TailBuffer(4);
    tail.push(Buffer.from("abcd"));
    expect(tail.truncated).toBe(false);
    tail.push(Buffer.from("e"));
    expect(tail.toString()).toBe("bcde");
    expect(tail.truncated).toBe(true);
  });

  it("drops a multi-byte character cut in half at the front", () => {
    const tail = new TailBuffer(4);
    tail.push(Buffer.from("xé€")); // 1 + 2 + 3 bytes: the last 4 hold half of "é" and all of "€"
    expect(tail.toString()).toBe("€");
  });

  it("stays bounded at 64 KiB by default however much is written", () => {
    const tail = new TailBuffer();
    const chunk = Buffer.alloc(10_000, "a");
    for (let i = 0; i < 100; i += 1) tail.push(chunk);
    tail.push(Buffer.from("THE END"));
    expect(OUTPUT_TAIL_BYTES).toBe(65_536);
    expect(tail.byteLength).toBe(65_536);
    expect(tail.toString().endsWith("aaaTHE END")).toBe(true);
  });
});
