#!/usr/bin/env node
// Summarises a V8 CPU profile (node --cpu-prof, e.g. from `main.mjs --cpu-prof DIR`): the share
// of samples by package (self time) and the top functions.
// Usage: node bench/api-throughput/profile-summary.mjs FILE.cpuprofile [--top 30] [--from S] [--to S]
// --from/--to: only the samples between S seconds after the profile started (start-up and module
// loading excluded), e.g. the window of one endpoint's load.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, from: { type: "string", default: "0" }, to: { type: "string", default: "1e9" } },
});
const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfSamples = new Map();
const [from, to] = [Number(values.from) * 1e6, Number(values.to) * 1e6];
let elapsed = 0;
let total = 0;
for (const [i, id] of profile.samples.entries()) {
  elapsed += profile.timeDeltas[i];
  if (elapsed < from || elapsed > to) continue;
  selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
  total++;
}

/** "prisma-client", "fastify", "(idle)", "node:internal", or the app's own file. */
function owner({ callFrame: { url, functionName } }) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pnpm = /node_modules\/\.pnpm\/((?:@[^+/]+\+)?[^@/]+)@/.exec(url);
  if (pnpm) return pnpm[1].replace("+", "/");
  if (url.startsWith("node:")) return "node:internal";
  const own = /\/(apps|packages)\/([^/]+)\//.exec(url);
  return own ? `@capy/${own[2]}` : url;
}

const packages = new Map();
const functions = new Map();
for (const [id, count] of selfSamples) {
  const node = byId.get(id);
  const pkg = owner(node);
  packages.set(pkg, (packages.get(pkg) ?? 0) + count);
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
  functions.set(name, (functions.get(name) ?? 0) + count);
}
const pct = (n) => `${((n / total) * 100).toFixed(1)} %`;
const busy = total - (packages.get("(idle)") ?? 0);
console.log(`${total} samples, ${pct(busy)} busy`);
console.log("\nself time by package (% of all samples):");
for (const [pkg, n] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(n).padStart(7)}  ${pkg}`);
console.log(`\ntop ${values.top} functions (self):`);
for (const [name, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`  ${pct(n).padStart(7)}  ${name}`);
