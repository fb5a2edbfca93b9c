// The rate limiter's bucket for each way a request may present (or not present) a credential,
// and the 401 messages of readApiKey, which now share presentedApiKey.

import { hashApiKey, mintApiKey } from "@capy/db";
import { describe, expect, it } from "vitest";
import { readApiKey } from "./api-key.js";
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
