// The target policy at creation: scheme, literal addresses of every refused kind, and names that
// resolve to them (a resolver is injected for names: DNS cannot be steered here otherwise).
import { describe, expect, it } from "vitest";
import { refusedAddressReason } from "./address.js";
import { checkWebhookTarget, type Resolver, TargetRefusedError } from "./policy.js";

const strict = { allowInsecure: false, allowPrivateTargets: false };
const resolver: Resolver = async (hostname) => {
  const table: Record<string, string[]> = {
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "inside.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
  };
  const addresses = table[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

describe("address classification", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.5.4", "private"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["0.0.0.0", "unspecified"],
    ["100.64.0.1", "carrierGradeNat"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["fd00:ec2::254", "uniqueLocal"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:127.0.0.1", "loopback"],
    ["64:ff9b::a00:1", "rfc6052"],
    ["224.0.0.1", "multicast"],
  ])("refuses %s (%s)", (address, reason) => {
    expect(refusedAddressReason(address)).toBe(reason);
  });

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])("allows %s", (address) => {
    expect(refusedAddressReason(address)).toBeUndefined();
  });
});

describe("checkWebhookTarget", () => {
  it("accepts an https URL whose host resolves only to public addresses", async () => {
    await expect(checkWebhookTarget("https://hooks.example.com/capy", strict, resolver)).resolves.toBeInstanceOf(URL);
  });

  it.each([
    ["http://hooks.example.com/capy", /must use https/],
    ["ftp://hooks.example.com/", /must use https/],
    ["not a url", /not a valid URL/],
    ["https://user:pw@hooks.example.com/", /credentials/],
    ["https://127.0.0.1/hook", /127\.0\.0\.1, loopback/],
    ["https://10.0.0.1/hook", /10\.0\.0\.1, private/],
    ["https://169.254.169.254/latest/meta-data", /169\.254\.169\.254, linkLocal/],
    ["https://[::1]/hook", /::1, loopback/],
    ["https://0.0.0.0/hook", /unspecified/],
    ["https://[::ffff:a00:1]/hook", /private/],
    ["https://inside.example.com/hook", /10\.1\.2\.3, private/],
    ["https://mixed.example.com/hook", /192\.168\.1\.10, private/],
    ["https://nowhere.example.com/hook", /does not resolve/],
  ])("refuses %s", async (url, message) => {
    const check = checkWebhookTarget(url, strict, resolver);
    await expect(check).rejects.toBeInstanceOf(TargetRefusedError);
    await expect(check).rejects.toThrow(message);
  });

  it("refuses localhost through the system resolver", async () => {
    await expect(checkWebhookTarget("https://localhost:8443/hook", strict)).rejects.toThrow(/non-public address \S+ loopback/);
  });

  it("lets the development switches through", async () => {
    const dev = { allowInsecure: true, allowPrivateTargets: true };
    await expect(checkWebhookTarget("http://127.0.0.1:9999/hook", dev, resolver)).resolves.toBeInstanceOf(URL);
    await expect(checkWebhookTarget("http://localhost/hook", { allowInsecure: true, allowPrivateTargets: false })).rejects.toThrow(/loopback/);
    await expect(checkWebhookTarget("http://93.184.216.34/hook", { allowInsecure: true, allowPrivateTargets: false })).resolves.toBeInstanceOf(URL);
  });
});
