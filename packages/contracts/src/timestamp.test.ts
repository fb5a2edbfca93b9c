import { describe, expect, it } from "vitest";
import { isoTimestamp, isoTimestampOrNull } from "./timestamp.js";

describe("isoTimestamp", () => {
  it("is toISOString for every date it builds itself: each field's padding, leap days, both ends of years 1000-9999", () => {
    const fixed = [
      "1000-01-01T00:00:00.000Z",
      "1969-12-31T23:59:59.999Z",
      "1970-01-01T00:00:00.000Z",
      "2024-02-29T09:05:07.010Z",
      "2026-11-30T19:54:48.100Z",
      "2026-12-01T03:38:19.001Z",
      "9999-12-31T23:59:59.999Z",
    ].map((text) => new Date(text));
    // A spread over the whole range, ms included (a fixed seed: the same dates every run).
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    const low = Date.UTC(1000, 0, 1);
    const high = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    const spread = Array.from({ length: 20_000 }, () => new Date(Math.floor(low + random() * (high - low))));
    for (const date of [...fixed, ...spread]) expect(isoTimestamp(date)).toBe(date.toISOString());
  });

  it("leaves the years toISOString writes with six digits to it, and refuses an invalid date as it does", () => {
    for (const text of ["0999-12-31T23:59:59.999Z", "+010000-01-01T00:00:00.000Z", "-000001-06-15T12:00:00.000Z"]) {
      expect(isoTimestamp(new Date(text))).toBe(text);
    }
    expect(() => isoTimestamp(new Date(Number.NaN))).toThrow(RangeError);
  });

  it("answers null for an absent date", () => {
    expect(isoTimestampOrNull(null)).toBeNull();
    expect(isoTimestampOrNull(new Date(0))).toBe("1970-01-01T00:00:00.000Z");
  });
});
