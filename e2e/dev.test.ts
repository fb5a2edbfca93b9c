// `pnpm dev` as a newcomer runs it (scripts/dev.mjs, after the build `pnpm test` already did):
// it prints the console's URL and a demo key, and in Chromium that key signs in to the console
// (Vite's dev server, proxying the API) on the demo project's backups. Its own metadata
// database, Redis prefix, ports and demo database; Ctrl-C (SIGINT) stops every process.
import { type ChildProcess, spawn } from "node:child_process";
import { createEmptyDatabase, createTestStack, freePort, launchChromium, REPO_ROOT, type TestDatabase, type TestStack, waitFor } from "@capy/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: TestStack;
let demo: TestDatabase;
let browser: Browser;
let dev: ChildProcess | undefined;
let output = "";

beforeAll(async () => {
  [stack, demo, browser] = await Promise.all([createTestStack(), createEmptyDatabase("capy_dev_demo"), launchChromium()]);
});

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev!.once("exit", resolve));
    dev.kill("SIGINT");
    await exited;
  }
  await browser?.close();
  await stack?.stop();
  await demo?.drop();
});

describe("pnpm dev", () => {
  it("prints the console's URL, where the demo key signs in", async () => {
    const [port, consolePort] = [await freePort(), await freePort()];
    dev = spawn(process.execPath, ["scripts/dev.mjs"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...stack.env,
        PORT: String(port),
        CONSOLE_PORT: String(consolePort),
        DEMO_DATABASE_URL: demo.url,
        WORKER_METRICS_PORT: "0",
        LOG_PRETTY: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    dev.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const printed = await waitFor(() => /console\s+(http:\/\/\S+)[\s\S]*API key\s+(capy_live_\S+)/.exec(output) ?? undefined, {
      timeoutMs: 60_000,
      what: "pnpm dev's banner",
    });
    const [, url, key] = printed;
    expect(url).toBe(`http://127.0.0.1:${consolePort}/`);

    // The banner comes as the processes start: wait until Vite and, through its proxy, the API answer.
    await waitFor(async () => (await fetch(url!).catch(() => null))?.ok, { timeoutMs: 60_000, what: "the console's dev server" });
    await waitFor(async () => (await fetch(`${url}v1/me`).catch(() => null))?.status === 401, { timeoutMs: 60_000, what: "the API behind the dev server" });
    const page = await browser.newPage();
    await page.goto(url!);
    await page.getByLabel("API key").fill(key!);
    await page.getByLabel("API key").press("Enter");
    await page
      .getByRole("heading", { name: "Backups", level: 1 })
      .waitFor({ timeout: 60_000 })
      .catch(async (error: unknown) => {
        // What the page and pnpm dev said, to tell a console fault from a service that did not start.
        throw new Error(`${String(error)}\npage: ${await page.locator("body").innerText()}\npnpm dev: ${output.slice(-4000)}`);
      });
    await page.getByText("No backups yet").waitFor({ timeout: 30_000 });
    expect(await page.locator(".project-title").innerText()).toBe("demo");
  });
});
