#!/usr/bin/env node
// The web console's bundle budget: the JavaScript a first visit must download before the page
// works (the entry script of apps/web/dist/index.html plus the chunks it preloads; lazily loaded
// chunks excluded), gzip-compressed as a server would send it (zlib level 6), against the budget
// of 200 kB (200,000 bytes). Exit 1 over budget. Run after `pnpm build` (`pnpm bench:console-bundle`).
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";

const BUDGET_BYTES = 200_000;
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "apps", "web", "dist");
const html = readFileSync(path.join(dist, "index.html"), "utf8");

/** Same-origin script URLs the page loads up front: the entry module and its modulepreloads. */
const initial = [
  ...html.matchAll(/<script\b[^>]*\btype="module"[^>]*\bsrc="([^"]+)"/g),
  ...html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g),
].map((match) => match[1]);

const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
let totalRaw = 0;
let totalGzip = 0;
let totalBrotli = 0;
console.log(
  `load average ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")} (sizes do not depend on it)`,
);
for (const url of initial) {
  const bytes = readFileSync(path.join(dist, url));
  const gzip = gzipSync(bytes, { level: 6 }).length;
  const brotli = brotliCompressSync(bytes).length;
  totalRaw += bytes.length;
  totalGzip += gzip;
  totalBrotli += brotli;
  console.log(`  ${url.padEnd(40)} ${kB(bytes.length).padStart(10)} raw ${kB(gzip).padStart(10)} gzip ${kB(brotli).padStart(10)} brotli`);
}
const ratio = totalGzip / BUDGET_BYTES;
console.log(`initial JavaScript: ${initial.length} file(s), ${kB(totalRaw)} raw, ${kB(totalGzip)} gzip, ${kB(totalBrotli)} brotli`);
console.log(`budget ${kB(BUDGET_BYTES)} gzip: ratio ${ratio.toFixed(3)} ${ratio <= 1 ? "(within budget)" : "(OVER BUDGET)"}`);
process.exitCode = ratio <= 1 ? 0 : 1;
