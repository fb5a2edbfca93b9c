// Real-browser checks (playwright-core driving Debian's chromium): the API reference at /docs
// renders and lists every public /v1 endpoint, and the queue dashboard renders for an operator
// and is refused without the token. Screenshots go to test-output/ at the repository root.
// Chromium must be installed (apt-get install chromium): without it these tests fail.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { BACKUP_QUEUE } from "@capy/contracts";
import { launchChromium, REPO_ROOT, watchCsp } from "@capy/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../test/harness.js";

const OUTPUT_DIR = path.join(REPO_ROOT, "test-output");
const TOKEN = "browser-operator-token-0123456789";

describe("in a browser", () => {
  let harness: Harness;
  let browser: Browser;

  beforeAll(async () => {
    [harness, browser] = await Promise.all([startHarness({ CAPY_OPERATOR_TOKEN: TOKEN }), launchChromium(), mkdir(OUTPUT_DIR, { recursive: true })]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.stop();
  });

  it("renders the API reference at /docs with every public /v1 endpoint", async () => {
    const openapi = (await (await fetch(`${harness.api.baseUrl}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const paths = Object.keys(openapi.paths);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.every((p) => p.startsWith("/v1/"))).toBe(true);

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const violations = watchCsp(page);
    const response = await page.goto(`${harness.api.baseUrl}/docs`);
    expect(response?.status()).toBe(200);
    // Scalar has rendered once the document's title is on the page.
    await page.getByText("Capy Backups API").first().waitFor({ timeout: 30_000 });
    // Tags start collapsed past the first: open every group so each operation is listed.
    for (let opened = 0; opened < 50; opened++) {
      const closed = page.getByRole("button", { name: /^Open Group/ });
      if ((await closed.count()) === 0) break;
      await closed.first().click();
    }
    const text = await page.locator("body").innerText();
    const missing = paths.filter((p) => !text.includes(p));
    expect(missing).toEqual([]);
    await page.screenshot({ path: path.join(OUTPUT_DIR, "docs.png"), fullPage: false });
    expect(violations).toEqual([]);
    await page.close();
  }, 60_000);

  it("renders the queue dashboard for an operator, once given the token", async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const violations = watchCsp(page);
    const outside: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(harness.api.baseUrl)) outside.push(request.url());
    });
    const response = await page.goto(`${harness.api.baseUrl}/admin/queues?token=${TOKEN}`);
    expect(response?.status()).toBe(200);
    // The token left the address bar; the cookie carries on.
    expect(new URL(page.url()).search).toBe("");
    // Rendered: the queue in the sidebar and its card (with its counts) in the overview.
    // (Runs in the page; the CSP forbids evaluating strings there. No DOM types in this project.)
    const rendered = (name: string) => {
      const text = (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText;
      return text.split(name).length - 1 >= 2 && !/Loading/.test(text);
    };
    await page.waitForFunction(rendered, BACKUP_QUEUE, { timeout: 30_000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, "admin-queues.png") });
    // Reloading works on the cookie alone.
    expect((await page.reload())?.status()).toBe(200);
    await page.getByText(BACKUP_QUEUE).first().waitFor({ timeout: 30_000 });
    expect(violations).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  }, 60_000);

  it("refuses the queue dashboard without the token", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${harness.api.baseUrl}/admin/queues`);
    expect(response?.status()).toBe(401);
    expect(JSON.parse(await page.locator("body").innerText())).toEqual({ error: "operator token required" });
    expect(await page.getByText(BACKUP_QUEUE).count()).toBe(0);
    const wrong = await page.goto(`${harness.api.baseUrl}/admin/queues?token=not-the-token`);
    expect(wrong?.status()).toBe(401);
    await context.close();
  }, 60_000);
});
