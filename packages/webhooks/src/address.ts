// Which network addresses a webhook may reach. Only globally routable unicast addresses are
// allowed: loopback, private (RFC 1918, unique-local), link-local (which holds the cloud metadata
// service 169.254.169.254), carrier-grade NAT, unspecified, multicast, reserved and the IPv6
// transition ranges that embed an IPv4 address (NAT64, 6to4, Teredo) are all refused.
// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are judged as the IPv4 address they carry.
import ipaddr from "ipaddr.js";

/** undefined when the address may be reached, else why not (e.g. "private", "loopback"). */
export function refusedAddressReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return "not an IP address";
  const range = ipaddr.process(address).range();
  return range === "unicast" ? undefined : range;
}

/** True for a literal IPv4 or IPv6 address (brackets of a URL host removed first). */
export function isIpLiteral(host: string): boolean {
  return ipaddr.isValid(stripBrackets(host));
}

/** `[::1]` (a URL's hostname) → `::1`. */
export function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
