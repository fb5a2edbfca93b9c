// The web console in real Chromium against the built API (serving apps/web/dist at /) and a real
// worker: a wrong key is refused with the API's message; a project key signs in (Enter), cancels
// a pending job, backs up and watches the backup reach "verified", downloads it (pg_restore
// restores it), and edits the schedule (the API's validation error, then the new next run). An
// organization key picks its project, creates a key (secret shown once) and revokes it, and
// reads the audit log; the project key restores its verified backup to a preview (it reaches "Ready",
// its credentials open the restored data) and creates a webhook whose test ping a local receiver
// gets, signed with the secret shown once; once its own key is revoked, the next 401 returns to sign-in. No console
// errors beyond the expected 4xx answers, no CSP violations. Screenshots: test-output/console-*.png.
import { createHmac } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createApiKey, revokeApiKey } from "@capy/db";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  launchChromium,
  pgbenchFingerprint,
  REPO_ROOT,
  run,
  startWebhookReceiver,
  type TestDatabase,
  type TestStack,
  type WebhookReceiver,
  watchCsp,
} from "@capy/testing";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

const OUTPUT_DIR = path.join(REPO_ROOT, "test-output");

let stack: TestStack;
let source: TestDatabase;
let restored: TestDatabase | undefined;
let tenant: Awaited<ReturnType<TestStack["createTenant"]>>;
let browser: Browser;
let dir: string;
let receiver: WebhookReceiver | undefined;
const { api } = e2eApi(() => stack.api!.baseUrl);

/** Console errors and CSP violations of a page, and the screenshot helper. */
function observe(page: Page) {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  const csp = watchCsp(page);
  const shot = (name: string) => page.screenshot({ path: path.join(OUTPUT_DIR, `console-${name}.png`), fullPage: true });
  /** Errors since the last call, except Chromium's own notes of HTTP answers with `allowed` statuses. */
  const takeErrors = (allowed: number[] = []) => {
    const unexpected = errors.filter((text) => !allowed.some((status) => text.includes(`the server responded with a status of ${status}`)));
    errors.length = 0;
    return unexpected;
  };
  return { csp, shot, takeErrors };
}

async function signIn(page: Page, key: string) {
  await page.goto(`${stack.api!.baseUrl}/`);
  await page.getByLabel("API key").fill(key);
  await page.getByLabel("API key").press("Enter");
}

beforeAll(async () => {
  [stack, source, browser] = await Promise.all([createTestStack(), createPgbenchDatabase(1), launchChromium(), mkdir(OUTPUT_DIR, { recursive: true })]);
  // No worker yet: the first backup job stays pending until the test cancels it.
  await stack.startApi();
  tenant = await stack.createTenant("console-org", "shop", source.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-console-"));
});

afterAll(async () => {
  await browser?.close();
  const previews = (await stack?.db.previewDatabase.findMany({ select: { databaseName: true } })) ?? [];
  await stack?.stop();
  await receiver?.close();
  await dropDatabasesAndRoles(previews.map((preview) => preview.databaseName)).catch(() => {});
  await Promise.all([source?.drop(), restored?.drop(), dir && rm(dir, { recursive: true, force: true })]);
});

describe("the web console", () => {
  let context: BrowserContext;
  afterAll(() => context?.close());

  it("is served at / with a strict CSP and long-cached hashed assets", async () => {
    const index = await fetch(`${stack.api!.baseUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-security-policy")).toMatch(/script-src 'self'(;|$)/);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${stack.api!.baseUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    // API answers are untouched: unknown paths are still `{ error }` 404s.
    const missing = await fetch(`${stack.api!.baseUrl}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "Not found" });
  });

  it("refuses a wrong key with the API's message, then signs in with a project key", async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC", acceptDownloads: true });
    const page = await context.newPage();
    const { csp, shot, takeErrors } = observe(page);
    const wrong = "capy_live_thisIsNotARealKey0000000000000";
    const expected = (await api(wrong, "GET", "/v1/me")).body.error as string;
    await signIn(page, wrong);
    await expect.poll(() => page.getByRole("alert").innerText(), { timeout: 15_000 }).toBe(expected);
    await shot("sign-in-error");
    expect(takeErrors([401])).toEqual([]);

    await signIn(page, tenant.api_key);
    // A project key opens straight on its project's backups.
    await page.getByRole("heading", { name: "Backups", level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/projects/${tenant.project_id}/backups`);
    await page.getByText("No backups yet").waitFor();
    // The credential lives in sessionStorage only. (Runs in the page; no DOM types in this project.)
    const storage = () => {
      const page = globalThis as unknown as { sessionStorage: { length: number }; localStorage: { length: number } };
      return { session: page.sessionStorage.length, local: page.localStorage.length };
    };
    expect(await page.evaluate(storage)).toEqual({ session: 1, local: 0 });
    await shot("backups-empty");
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("cancels a pending job from the Jobs page", async () => {
    const page = context.pages()[0]!;
    const { csp, shot, takeErrors } = observe(page);
    const { body } = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, { label: "to cancel" });
    const jobId = (body.job as { id: string }).id;
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
    const row = page.getByRole("row").filter({ hasText: jobId });
    await row.locator(".badge", { hasText: "Pending" }).waitFor();
    await row.getByRole("button", { name: `Cancel job ${jobId}` }).click();
    await row.locator(".badge", { hasText: "Canceled" }).waitFor();
    expect((await api(tenant.api_key, "GET", `/v1/jobs/${jobId}`)).body.job).toMatchObject({ state: "canceled" });
    await row.getByRole("link", { name: "Backup" }).click();
    await page.getByText("Never claimed").waitFor();
    await shot("job-detail");
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("backs up now, watches it reach verified, and downloads an archive pg_restore restores", async () => {
    await stack.startWorker();
    const page = context.pages()[0]!;
    const { csp, shot, takeErrors } = observe(page);
    await page.getByRole("link", { name: "Backups" }).click();
    await page.getByLabel("Label (optional)").fill("from the console");
    await page.getByRole("button", { name: "Back up now" }).click();
    await page.getByText("Backup “from the console”").waitFor();
    const row = page.getByRole("row").filter({ hasText: "from the console" });
    await row.getByText("Verified", { exact: true }).waitFor({ timeout: 120_000 });
    await page.getByText("Backup stored and verified").waitFor();
    await shot("backups");

    const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("button", { name: "Download from the console" }).click()]);
    const file = path.join(dir, download.suggestedFilename());
    await download.saveAs(file);
    restored = await createEmptyDatabase("capy_console_restore");
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", restored.url, file]);
    expect(await pgbenchFingerprint(restored.url)).toEqual(await pgbenchFingerprint(source.url));
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("shows the API's validation error for a bad schedule, and the next run of a good one", async () => {
    const page = context.pages()[0]!;
    const { csp, shot, takeErrors } = observe(page);
    await page.getByRole("link", { name: "Schedule" }).click();
    await page.getByRole("heading", { name: "Schedule", level: 1 }).waitFor();
    await page.getByLabel("Hour (UTC)").fill("24");
    await page.getByLabel("Minute (UTC)").fill("30");
    await page.getByRole("button", { name: "Save schedule" }).click();
    const bad = { cron_hour: 24, cron_minute: 30, is_active: true, retention_days: 7 };
    const expected = (await api(tenant.api_key, "PUT", `/v1/projects/${tenant.project_id}/scheduled-backups/default`, bad)).body.error as string;
    await expect.poll(() => page.getByRole("alert").innerText(), { timeout: 15_000 }).toBe(expected);
    await shot("schedule-error");
    expect(takeErrors([400])).toEqual([]);

    await page.getByLabel("Hour (UTC)").fill("5");
    await page.getByRole("button", { name: "Save schedule" }).click();
    await page.getByTestId("next-run").filter({ hasText: "5:30 AM" }).waitFor();
    const { body } = await api(tenant.api_key, "GET", `/v1/projects/${tenant.project_id}/scheduled-backups`);
    const [schedule] = body.scheduled_backups as Array<{ cron_hour: number; cron_minute: number; next_run_at: string }>;
    expect(schedule).toMatchObject({ cron_hour: 5, cron_minute: 30 });
    const nextRun = new Date(schedule!.next_run_at);
    expect(nextRun.getUTCHours()).toBe(5);
    expect(await page.getByTestId("next-run").innerText()).toContain(nextRun.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" }));
    await shot("schedule");
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("restores a verified backup to a preview that reaches Ready, and shows its credentials on demand", async () => {
    const page = context.pages()[0]!;
    const { csp, shot, takeErrors } = observe(page);
    await page.getByRole("link", { name: "Previews" }).click();
    await page.getByRole("heading", { name: "Previews", level: 1 }).waitFor();
    await page.getByText("No preview databases").waitFor();
    expect(await page.getByLabel("Backup", { exact: true }).locator("option:checked").innerText()).toContain("from the console");
    await page.getByLabel("Preview name (optional)").fill("console preview");
    await page.getByLabel("Lifetime (hours)").fill("2");
    await page.getByRole("button", { name: "Restore to preview" }).click();
    await page.getByText("Restore to preview “console preview”").waitFor();
    const row = page.getByRole("row").filter({ hasText: "console preview" });
    await row.getByText("Ready", { exact: true }).waitFor({ timeout: 120_000 });
    await page.getByText("Restored", { exact: true }).waitFor();
    // Hidden until asked for, then masked until revealed.
    expect(await page.getByLabel("Connection URI", { exact: true }).count()).toBe(0);
    await row.getByRole("button", { name: "Show credentials of console preview" }).click();
    const uri = page.getByLabel("Connection URI", { exact: true });
    await uri.waitFor();
    expect(await uri.getAttribute("type")).toBe("password");
    await page.getByRole("button", { name: "Reveal" }).click();
    expect(await uri.getAttribute("type")).toBe("text");
    expect(await pgbenchFingerprint(await uri.inputValue())).toEqual(await pgbenchFingerprint(source.url));
    await shot("previews");
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("creates a webhook (its secret shown once) whose test ping a local receiver gets, signed", async () => {
    receiver = await startWebhookReceiver();
    const page = context.pages()[0]!;
    const { csp, shot, takeErrors } = observe(page);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    await page.getByText("No webhooks").waitFor();
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByRole("button", { name: "Create webhook" }).click();
    const secret = await page.getByLabel("Signing secret", { exact: true }).inputValue();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => page.getByLabel("Signing secret", { exact: true }).count(), { timeout: 15_000 }).toBe(0);

    const row = page.getByRole("row").filter({ hasText: receiver.url });
    await row.getByText("Healthy").waitFor();
    await row.getByRole("button", { name: `Send test ping to ${receiver.url}` }).click();
    const deliveries = page.getByRole("region", { name: `Deliveries of ${receiver.url}` });
    await deliveries.getByRole("row").filter({ hasText: "ping" }).getByText("Succeeded").waitFor({ timeout: 30_000 });
    const [ping] = receiver.received;
    expect(ping?.event).toBe("ping");
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(ping!.headers["x-capydb-signature"])) ?? [];
    expect(v1).toBe(createHmac("sha256", secret).update(`${t}.${ping!.body}`).digest("hex"));
    await shot("webhooks");
    expect(takeErrors()).toEqual([]);
    expect(csp).toEqual([]);
  });

  it("lets an organization key pick its project, create and revoke a key, and read the audit log", async () => {
    const orgKey = await createApiKey(stack.db, { organizationId: tenant.organization_id, name: "console admin" });
    const org = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    const page = await org.newPage();
    const { csp, shot, takeErrors } = observe(page);
    await signIn(page, orgKey.plaintext);
    await page.getByRole("heading", { name: "Projects", level: 1 }).waitFor();
    await page.getByRole("link", { name: "shop" }).waitFor();
    await shot("projects");
    await page.getByRole("link", { name: "shop" }).click();
    await page.getByRole("row").filter({ hasText: "from the console" }).waitFor();

    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "Create API key" }).click();
    await page.getByLabel("Name").fill("CI pipeline");
    await page.getByRole("checkbox", { name: /backups:write/ }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = await page.getByLabel("New API key", { exact: true }).inputValue();
    expect(secret).toMatch(/^capy_live_/);
    const created = (await api(secret, "GET", "/v1/me")).body.principal as { scopes: string[] };
    expect([...created.scopes].sort()).toEqual(["backups:read", "backups:write", "jobs:read"]);
    await shot("api-key-secret");
    await page.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => page.getByLabel("New API key", { exact: true }).count(), { timeout: 15_000 }).toBe(0);
    await page.getByRole("button", { name: "Revoke CI pipeline" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await page.getByRole("row").filter({ hasText: "CI pipeline" }).getByText("Revoked").waitFor();
    expect((await api(secret, "GET", "/v1/me")).status).toBe(401);
    await shot("api-keys");

    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByText("api_key.revoked").first().waitFor();
    await page.getByText("backup.downloaded").first().waitFor();
    await shot("audit");
    expect(takeErrors()).toEqual([]);

    // Its own key revoked meanwhile: the next call's 401 returns to sign-in, saying why.
    await revokeApiKey(stack.db, orgKey.id);
    const jobsHash = `#/projects/${tenant.project_id}/jobs`;
    await page.evaluate((hash) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
    }, jobsHash);
    await page.getByText("The API no longer accepts this credential (revoked or expired). Sign in again.").waitFor();
    await page.getByLabel("API key").waitFor();
    expect(takeErrors([401])).toEqual([]);
    expect(csp).toEqual([]);
    await org.close();
  });
});
