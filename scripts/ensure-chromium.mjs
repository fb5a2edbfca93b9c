#!/usr/bin/env node
// First step of `pnpm test`: the browser tests (apps/api/src/http/browser.test.ts) drive Debian's
// Chromium through playwright-core, which cannot download a browser of its own here. Installs it
// with apt-get when this user can (root, or password-less sudo); otherwise stops with one line
// saying what to run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
const INSTRUCTION = `pnpm test needs Chromium at ${CHROMIUM} for the browser tests: install it (Debian/Ubuntu: sudo apt-get install -y chromium), then run the tests again`;

const succeeds = (command, args) => spawnSync(command, args, { stdio: "ignore" }).status === 0;

/** apt-get as root, or through sudo without a password prompt; undefined when neither works. */
function aptGet() {
  if (!succeeds("sh", ["-c", "command -v apt-get"])) return undefined;
  if (process.getuid?.() === 0) return ["apt-get"];
  return succeeds("sudo", ["-n", "true"]) ? ["sudo", "-n", "apt-get"] : undefined;
}

function run([command, ...args]) {
  const result = spawnSync(command, args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

if (!existsSync(CHROMIUM)) {
  const apt = aptGet();
  if (!apt) {
    console.error(INSTRUCTION);
    process.exit(1);
  }
  console.log(`installing Chromium for the browser tests (${apt.join(" ")} install chromium)`);
  const install = [...apt, "install", "-y", "--no-install-recommends", "chromium"];
  // A machine that never ran apt-get update has no package lists yet.
  let result = run(install);
  if (!result.ok) result = run([...apt, "update"]).ok ? run(install) : result;
  if (!result.ok || !existsSync(CHROMIUM)) {
    console.error(result.output.trim().split("\n").slice(-10).join("\n"));
    console.error(INSTRUCTION);
    process.exit(1);
  }
}
