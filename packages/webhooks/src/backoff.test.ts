import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, retryDelayMs } from "./backoff.js";

describe("retryDelayMs", () => {
  it("triples from the base, within ±20 % jitter, up to the cap", () => {
    expect([1, 2, 3].map((n) => retryDelayMs(n, DEFAULT_BACKOFF, () => 0.5))).toEqual([60_000, 180_000, 540_000]);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0)).toBe(48_000);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0.999_999)).toBe(72_000);
    expect(retryDelayMs(20, DEFAULT_BACKOFF, () => 0.5)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it("makes every gap longer than the one before, whatever the jitter", () => {
    for (let n = 1; n < 6; n += 1) expect(retryDelayMs(n + 1, DEFAULT_BACKOFF, () => 0)).toBeGreaterThan(retryDelayMs(n, DEFAULT_BACKOFF, () => 0.999_999));
  });
});
