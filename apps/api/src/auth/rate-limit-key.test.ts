// The rate limiter's bucket for each way a request may present (or not present) a credential,
// the 401 messages of readApiKey, which now share presentedApiKey, and the presented key's hash
// (remembered by key across requests).

import { hashApiKey, mintApiKey } from "@capy/db";
import { describe, expect, it } from "vitest";
import { presentedKeyHash, readApiKey } from "./api-key.js";
import { createRateLimitKeyGenerator } from "./authenticate.js";
import { createSessionVerifier } from "./session.js";

const keyOf = createRateLimitKeyGenerator(createSessionVerifier(undefined));
const ip = "192.0.2.7";

describe("rate-limit bucket", () => {
  it("is the key's hash for a well-formed key, from either header", () => {
    const { plaintext } = mintApiKey();
    const bucket = `key:${hashApiKey(plaintext)}`;
    expect(keyOf({ headers: { authorization: `Bearer ${plaintext}` }, ip })).toBe(bucket);
    expect(keyOf({ headers: { "x-api-key": ` ${plaintext} ` }, ip })).toBe(bucket);
  });

  it("is the address without a credential, with a malformed one or a non-Bearer Authorization", () => {
    for (const headers of [{}, { authorization: "Basic dXNlcg==" }, { authorization: "Bearer capy_live_nope" }, { "x-api-key": " " }])
      expect(keyOf({ headers, ip })).toBe(`ip:${ip}`);
  });
});

describe("readApiKey", () => {
  it("answers 401 with what is wrong", () => {
    expect(() => readApiKey({})).toThrow(/missing API key/);
    expect(() => readApiKey({ authorization: "Basic dXNlcg==" })).toThrow('Authorization header must be "Bearer <API key>"');
    expect(readApiKey({ "x-api-key": " capy_live_x " })).toBe("capy_live_x");
  });
});

describe("presentedKeyHash", () => {
  it("is the key's SHA-256 on every ask, each key its own, and nothing for a malformed key", () => {
    const [one, two] = [mintApiKey().plaintext, mintApiKey().plaintext];
    for (let ask = 0; ask < 2; ask++) {
      expect(presentedKeyHash(one)).toBe(hashApiKey(one));
      expect(presentedKeyHash(two)).toBe(hashApiKey(two));
    }
    // The right shape with a wrong checksum, asked twice: never taken for a key.
    const last = one.at(-1) === "a" ? "b" : "a";
    const wrongChecksum = `${one.slice(0, -1)}${last}`;
    for (let ask = 0; ask < 2; ask++) expect(presentedKeyHash(wrongChecksum)).toBeUndefined();
    expect(presentedKeyHash("capy_live_nope")).toBeUndefined();
  });

  it("stays right once more keys were presented than it remembers (10,000)", () => {
    const first = mintApiKey().plaintext;
    expect(presentedKeyHash(first)).toBe(hashApiKey(first));
    const others = Array.from({ length: 10_001 }, () => mintApiKey().plaintext);
    for (const key of others) presentedKeyHash(key);
    expect(presentedKeyHash(first)).toBe(hashApiKey(first));
    expect(presentedKeyHash(others.at(-1)!)).toBe(hashApiKey(others.at(-1)!));
  });
});
