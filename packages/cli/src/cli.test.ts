// The built `capy` binary as a user runs it: a child process configured by CAPY_API_URL and
// CAPY_API_KEY, against a real API and worker.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Backup, Job, PreviewDatabase, ScheduledBackup } from "@capy/contracts";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  createTestStack,
  dropDatabasesAndRoles,
  freePort,
  pgbenchFingerprint,
  REPO_ROOT,
  run,
  startApi,
  startWebhookReceiver,
  type TestDatabase,
  type TestStack,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "main.js");

let stack: TestStack;
let source: TestDatabase;
let tenant: Awaited<ReturnType<TestStack["createTenant"]>>;
let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built binary with a clean CAPY_* environment; never rejects on a non-zero exit. */
function capy(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CAPY_")) env[key] = value;
  Object.assign(env, { CAPY_API_URL: stack.api!.baseUrl, CAPY_API_KEY: tenant.api_key, CAPY_PROJECT_ID: tenant.project_id }, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd ?? dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const noStackTrace = (result: Result) => expect(result.stderr + result.stdout).not.toMatch(/\n\s+at .+[(:]\d+/);
const json = (result: Result) => JSON.parse(result.stdout) as Record<string, unknown>;

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(1)]);
  await Promise.all([stack.startApi(), stack.startWorker()]);
  tenant = await stack.createTenant("cli-org", "cli-project", source.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-cli-"));
});

afterAll(async () => {
  await Promise.all(cleanups.map((fn) => fn()));
  await stack?.stop();
  await Promise.all([source?.drop(), dir && rm(dir, { recursive: true, force: true })]);
});

describe("capy backups", () => {
  let jobId: string;
  let backupId: string;

  it("create --wait follows the job to completion with plain progress lines", async () => {
    const result = await capy(["backups", "create", "--label", "via cli", "--wait", "--interval", "0.2"]);
    expect(result.code, result.stderr).toBe(0);
    jobId = /^id:\s+(job_\S+)$/m.exec(result.stdout)?.[1] ?? "";
    expect(jobId).toMatch(/^job_/);
    expect(result.stdout).toMatch(/^state:\s+completed$/m);
    expect(result.stdout).toMatch(/^attempts:\s+1\/3$/m);
    // Not a TTY: one plain line per state change, no carriage-return redraws.
    expect(result.stderr).toContain(`${jobId}: pending (queued)`);
    expect(result.stderr).toContain(`${jobId}: completed`);
    expect(result.stderr).not.toContain("\r");
  });

  it("create --wait --json prints the finished job for scripts", async () => {
    const result = await capy(["backups", "create", "--wait", "--json", "--interval", "0.2"]);
    expect(result.code, result.stderr).toBe(0);
    const job = Job.strict().parse(json(result).job);
    expect(job).toMatchObject({ state: "completed", type: "backup", project_id: tenant.project_id, last_exit_code: 0 });
  });

  it("list shows a table, and --json the API's backups", async () => {
    const table = await capy(["backups", "list"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ID\s+│\s+CREATED\s+│\s+SIZE/);
    expect(table.stdout).toContain("via cli");
    expect(table.stdout).toMatch(/\d+(\.\d)? (KiB|MiB)/);

    const listed = await capy(["backups", "list", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const backups = (json(listed).backups as unknown[]).map((b) => Backup.strict().parse(b));
    expect(backups).toHaveLength(2);
    const labelled = backups.find((b) => b.label === "via cli");
    expect(labelled).toMatchObject({ state: "completed", project_id: tenant.project_id, database_name: source.name });
    backupId = labelled!.id;
  });

  it("download streams a restorable artifact under the server's file name", async () => {
    const downloads = await mkdtemp(path.join(dir, "dl-"));
    const result = await capy(["backups", "download", backupId], { cwd: downloads });
    expect(result.code, result.stderr).toBe(0);
    const files = await readdir(downloads);
    expect(files).toHaveLength(1); // no .part left behind
    const file = path.join(downloads, files[0]!);
    expect(files[0]).not.toMatch(/\.part$/);
    expect(result.stdout).toContain(`saved ${file}`);
    expect(result.stderr).toContain(`downloading ${backupId}`);

    const again = await capy(["backups", "download", backupId, "--json"], { cwd: downloads });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists; pass --force");

    const explicit = path.join(dir, "explicit.dump");
    const named = await capy(["backups", "download", backupId, "-o", explicit, "--json"]);
    expect(named.code, named.stderr).toBe(0);
    expect(json(named)).toEqual({ backup_id: backupId, path: explicit, size_bytes: (await stat(explicit)).size });
    expect((await stat(file)).size).toBe((await stat(explicit)).size);

    const target = await createEmptyDatabase("capy_cli_restore");
    cleanups.push(() => target.drop());
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", target.url, file]);
    expect(await pgbenchFingerprint(target.url)).toEqual(await pgbenchFingerprint(source.url));

    // --raw: the bytes as stored (age around zstd), under a .dump.zst.age name; age -d with the
    // platform key's identity, then zstd -d, give the same archive. --stored is the same.
    const raw = await capy(["backups", "download", backupId, "--raw", "--json"], { cwd: downloads });
    expect(raw.code, raw.stderr).toBe(0);
    const age = json(raw).path as string;
    expect(age).toMatch(/\.dump\.zst\.age$/);
    const row = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId }, include: { encryptionKey: true } });
    const identity = path.join(dir, "platform-key.txt");
    await writeFile(identity, `${stack.keyring.open(row.encryptionKey!.privateKeyEncrypted)}\n`, { mode: 0o600 });
    await run("age", ["-d", "-i", identity, "-o", `${age}.zst`, age]);
    await run("zstd", ["-q", "-d", `${age}.zst`, "-o", `${age}.decoded`]);
    expect((await stat(`${age}.decoded`)).size).toBe((await stat(file)).size);
    const stored = await capy(["backups", "download", backupId, "--stored", "-o", path.join(dir, "stored.age"), "--json"]);
    expect(stored.code, stored.stderr).toBe(0);
    expect((await stat(path.join(dir, "stored.age"))).size).toBe((await stat(age)).size);
  });

  it("delete removes a backup (then it is not found: exit 6)", async () => {
    const listed = (json(await capy(["backups", "list", "--json"])).backups as Array<{ id: string }>).map((b) => b.id);
    const other = listed.find((id) => id !== backupId)!;
    const result = await capy(["backups", "delete", other]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^deleted ${other} \\(`));
    const again = await capy(["backups", "delete", other, "--json"]);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain("backup not found");
    const remaining = (json(await capy(["backups", "list", "--json"])).backups as Array<{ id: string }>).map((b) => b.id);
    expect(remaining).toEqual([backupId]);
    const viaJson = await capy(["backups", "delete", backupId, "--json"]);
    expect(viaJson.code, viaJson.stderr).toBe(0);
    expect(Backup.strict().parse(json(viaJson).backup).id).toBe(backupId);
  });

  it("create --wait exits 3 with the job's error when the job fails (database dropped), and jobs watch agrees", async () => {
    const doomed = await createEmptyDatabase("capy_cli_doomed");
    const broken = await stack.createTenant("cli-org", "dropped-db", doomed.url);
    await doomed.drop();
    const result = await capy(["backups", "create", "--wait", "--interval", "0.2"], {
      env: { CAPY_API_KEY: broken.api_key, CAPY_PROJECT_ID: broken.project_id },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/capy: job job_\S+ failed after \d\/3 attempts \(permanent\): .*does not exist/);
    noStackTrace(result);

    const failedId = /job (job_\S+) failed/.exec(result.stderr)![1]!;
    const watched = await capy(["jobs", "watch", failedId, "--json"], { env: { CAPY_API_KEY: broken.api_key } });
    expect(watched.code).toBe(3);
    expect(Job.parse(json(watched).job)).toMatchObject({ id: failedId, state: "failed" });
  });

  it("jobs list and get, as tables and as JSON", async () => {
    const table = await capy(["jobs", "list", "--limit", "5"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(jobId);
    expect(table.stdout).toMatch(/STATE\s+│\s+ATTEMPTS/);

    const listed = await capy(["jobs", "list", "--limit", "1", "--json"]);
    const jobs = (json(listed).jobs as unknown[]).map((j) => Job.strict().parse(j));
    expect(jobs).toHaveLength(1);

    const one = await capy(["jobs", "get", jobId]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^id:\\s+${jobId}$`, "m"));
    expect(one.stdout).toMatch(/^exit code:\s+0$/m);
    expect(one.stdout).toMatch(/^completed:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.+ ago\)$/m);

    const raw = await capy(["--json", "jobs", "get", jobId]);
    expect(Job.strict().parse(json(raw).job)).toMatchObject({ id: jobId, state: "completed" });

    const watched = await capy(["jobs", "watch", jobId]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain(`${jobId}: completed`);
  });
});

describe("capy restores and previews", () => {
  it("restores create --wait prints the new preview's connection URI; previews list, get, credentials and delete", async () => {
    const made = await capy(["backups", "create", "--wait", "--json", "--interval", "0.2"]);
    expect(made.code, made.stderr).toBe(0);
    const backups = await capy(["backups", "list", "--json"]);
    const backupId = Backup.parse((json(backups).backups as unknown[])[0]).id;

    const restored = await capy(["restores", "create", "--backup", backupId, "--name", "from cli", "--ttl-hours", "2", "--wait", "--interval", "0.2"]);
    expect(restored.code, restored.stderr).toBe(0);
    const uri = restored.stdout.trim().split("\n").at(-1)!;
    expect(uri).toMatch(/^postgresql:\/\/capy_pvw_/);
    // No worker sweep is sure to run before the stack stops.
    cleanups.push(() => dropDatabasesAndRoles([new URL(uri).username]));
    expect(await pgbenchFingerprint(uri)).toEqual(await pgbenchFingerprint(source.url));
    expect(restored.stderr).toMatch(/restoring/);

    const table = await capy(["previews", "list"]);
    expect(table.stdout).toMatch(/pvw_\S+ .*from cli .*ready/);
    const listed = await capy(["previews", "list", "--json"]);
    const previewId = (json(listed).preview_databases as PreviewDatabase[]).find((p) => p.name === "from cli")!.id;
    const got = await capy(["previews", "get", previewId, "--json"]);
    expect(PreviewDatabase.parse(json(got).preview_database)).toMatchObject({ id: previewId, state: "ready", source_backup_id: backupId });
    expect((await capy(["previews", "credentials", previewId])).stdout.trim()).toBe(uri);
    const deleted = await capy(["previews", "delete", previewId]);
    expect(deleted.stdout).toContain(`deleting ${previewId}`);
    const again = await capy(["previews", "delete", previewId]);
    expect(again.code).toBe(6);
    expect((await capy(["restores", "create", "--backup", backupId, "--target", "nowhere"])).code).toBe(2);
  });
});

describe("capy jobs cancel", () => {
  it("cancels a pending job, then reports that it is already canceled", async () => {
    const project = await stack.db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
    // A pending row that is not in the queue, so no worker starts it before the cancel.
    const jobId = `job_cli_cancel_${Date.now()}`;
    await stack.db.job.create({
      data: {
        id: jobId,
        type: "backup",
        state: "pending",
        clusterId: project.clusterId,
        lockedResource: "database:cli",
        organizationId: project.organizationId,
        projectId: project.id,
      },
    });
    const canceled = await capy(["jobs", "cancel", jobId]);
    expect(canceled.code, canceled.stderr).toBe(0);
    expect(canceled.stdout.trim()).toBe(`${jobId} canceled`);
    expect((await stack.db.job.findUniqueOrThrow({ where: { id: jobId } })).state).toBe("canceled");

    const again = await capy(["jobs", "cancel", jobId, "--json"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("job is already canceled");
    noStackTrace(again);
  });
});

describe("capy schedule", () => {
  it("says when there is no schedule, then sets and shows it", async () => {
    const none = await capy(["schedule", "get"]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain("no schedule set");

    const set = await capy(["schedule", "set", "--hour", "3", "--minute", "5", "--retention-days", "14", "--label", "nightly", "--inactive"]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^runs:\s+daily at 03:05 UTC$/m);
    expect(set.stdout).toMatch(/^active:\s+no \(paused\)$/m);

    const got = await capy(["schedule", "get", "--json"]);
    expect(got.code, got.stderr).toBe(0);
    const schedules = (json(got).scheduled_backups as unknown[]).map((s) => ScheduledBackup.strict().parse(s));
    expect(schedules).toHaveLength(1);
    expect(schedules[0]).toMatchObject({ cron_hour: 3, cron_minute: 5, retention_days: 14, label: "nightly", is_active: false });

    const replaced = await capy(["schedule", "set", "--hour", "23", "--minute", "59", "--json"]);
    expect(ScheduledBackup.parse(json(replaced).scheduled_backup)).toMatchObject({
      cron_hour: 23,
      cron_minute: 59,
      is_active: true,
      retention_days: 7,
      label: null,
    });

    const bad = await capy(["schedule", "set", "--hour", "24", "--minute", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--hour must be an integer from 0 to 23");
  });
});

describe("capy failures", () => {
  it("a bad key exits 4 with a clear message", async () => {
    const result = await capy(["backups", "list"], { env: { CAPY_API_KEY: "capy_live_not-a-real-key" } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^capy: authentication failed \(401\): .+CAPY_API_KEY/);
    expect(result.stdout).toBe("");
    noStackTrace(result);
  });

  it("a missing key exits 4 before any request", async () => {
    const result = await capy(["backups", "list"], { env: { CAPY_API_KEY: "" } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("no API key: set CAPY_API_KEY or pass --api-key");
  });

  it("a key without the needed scope exits 5", async () => {
    const limited = await stack.createTenant("cli-org", "read-only", source.url);
    await stack.db.apiKey.update({ where: { id: limited.api_key_id }, data: { scopes: ["backups:read"] } });
    const env = { CAPY_API_KEY: limited.api_key, CAPY_PROJECT_ID: limited.project_id };
    expect((await capy(["backups", "list"], { env })).code).toBe(0);
    const result = await capy(["jobs", "list"], { env });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^capy: permission denied \(403\): .*jobs:read.*lacks the scope/);
    noStackTrace(result);
  });

  it("a rate-limited key exits 7 and says when to retry", async () => {
    const limitedApi = await startApi({ ...stack.env, RATE_LIMIT_PER_MINUTE: "2" });
    cleanups.push(() => limitedApi.stop());
    const busy = await stack.createTenant("cli-org", "busy", source.url);
    const env = { CAPY_API_URL: limitedApi.baseUrl, CAPY_API_KEY: busy.api_key, CAPY_PROJECT_ID: busy.project_id };
    const results: Result[] = [];
    for (let i = 0; i < 3; i++) results.push(await capy(["backups", "list"], { env }));
    expect(results.map((r) => r.code)).toEqual([0, 0, 7]);
    expect(results[2]!.stderr).toMatch(/^capy: rate limited \(429\): .+\. Retry after \d+ s\.\n$/);
  });

  it("an unknown job exits 6", async () => {
    const result = await capy(["jobs", "get", "job_does_not_exist"]);
    expect(result.code).toBe(6);
    expect(result.stderr).toBe("capy: not found (404): job not found\n");
  });

  it("an unreachable server exits 8 and names the URL", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    for (const args of [
      ["backups", "list"],
      ["--api-url", url, "backups", "download", "bkp_x"],
    ]) {
      const result = await capy(args, { env: { CAPY_API_URL: url } });
      expect(result.code).toBe(8);
      expect(result.stderr).toBe(`capy: cannot reach the Capy API at ${url}: connection refused\n`);
    }
  });

  it("a missing project is a usage error", async () => {
    const result = await capy(["backups", "list"], { env: { CAPY_PROJECT_ID: "" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no project: pass --project prj_… or set CAPY_PROJECT_ID");
  });
});

describe("capy webhooks", () => {
  it("creates, lists, pings (--wait), shows deliveries and deletes an endpoint", async () => {
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const created = await capy(["webhooks", "create", "--url", receiver.url, "--events", "job.completed,job.failed", "--description", "cli"]);
    expect(created.code, created.stderr).toBe(0);
    const id = /^id:\s+(whk_\S+)$/m.exec(created.stdout)?.[1] ?? "";
    expect(created.stdout).toMatch(/^secret:\s+whsec_\S+$/m);
    expect(created.stderr).toContain("shown only now");

    const listed = await capy(["webhooks", "list"]);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain("whsec_");
    expect(listed.stdout).toContain(tenant.project_id); // a project key's webhook belongs to its project

    const tested = await capy(["webhooks", "test", id, "--wait"]);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^dlv_\S+: succeeded \(HTTP 200\)$/m);
    expect(receiver.received.map((r) => r.event)).toEqual(["ping"]);

    const deliveries = json(await capy(["--json", "webhooks", "deliveries", id, "--limit", "5"])) as {
      deliveries: Array<{ event_type: string; state: string }>;
    };
    expect(deliveries.deliveries).toMatchObject([{ event_type: "ping", state: "succeeded" }]);

    expect((await capy(["webhooks", "delete", id])).stdout).toBe(`${id} deleted\n`);
    const gone = await capy(["webhooks", "deliveries", id]);
    expect(gone.code).toBe(6);
    expect(gone.stderr).toBe("capy: not found (404): webhook not found\n");
  });

  it("refuses an empty --events list before calling the API", async () => {
    const result = await capy(["webhooks", "create", "--url", "https://hooks.example.com", "--events", ","]);
    expect(result.code).toBe(2);
    noStackTrace(result);
  });
});

describe("capy encryption", () => {
  /** A fresh age identity as `age-keygen` makes it; its public key (the identity stays in the test). */
  async function agePublicKey(): Promise<string> {
    const { stdout } = await run("age-keygen", []);
    return /^# public key: (age1\S+)$/m.exec(stdout)![1]!;
  }

  it("adds, lists and removes recipients; refuses a bad key (exit 1) and an unknown id (exit 6)", async () => {
    const publicKey = await agePublicKey();
    const added = await capy(["encryption", "recipients", "add", publicKey, "--label", "offline laptop"]);
    expect(added.code, added.stderr).toBe(0);
    const id = /^id:\s+(rcp_\S+)$/m.exec(added.stdout)?.[1] ?? "";
    expect(id).toMatch(/^rcp_/);
    expect(added.stdout).toMatch(new RegExp(`^public_key:\\s+${publicKey}$`, "m"));
    expect(added.stderr).toContain("age -d -i key.txt");

    const table = await capy(["encryption", "recipients", "list"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain("offline laptop");
    const listed = json(await capy(["--json", "encryption", "recipients", "list"])) as { encryption_recipients: Array<{ id: string; public_key: string }> };
    expect(listed.encryption_recipients).toEqual([expect.objectContaining({ id, public_key: publicKey })]);

    const duplicate = await capy(["encryption", "recipients", "add", publicKey, "--label", "again"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain(`public_key is already recipient ${id} of this project`);
    const bad = await capy(["encryption", "recipients", "add", "ssh-ed25519 AAAA", "--label", "ssh"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/public_key must be an age X25519 public key: age1 followed by 58 lower-case characters/);
    noStackTrace(bad);

    expect((await capy(["encryption", "recipients", "remove", id])).stdout).toBe(`${id} removed\n`);
    const gone = await capy(["encryption", "recipients", "remove", id]);
    expect(gone.code).toBe(6);
    expect(gone.stderr).toBe("capy: not found (404): encryption recipient not found\n");
  });

  it("rotates the platform key; keys list shows both, public parts only", async () => {
    const before = json(await capy(["--json", "encryption", "keys", "list"])) as { encryption_keys: Array<{ id: string; current: boolean }> };
    const rotated = await capy(["encryption", "rotate"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newId = /^id:\s+(enk_\S+)$/m.exec(rotated.stdout)?.[1] ?? "";
    expect(newId).toMatch(/^enk_/);

    const after = await capy(["--json", "encryption", "keys", "list"]);
    const keys = (json(after) as { encryption_keys: Array<{ id: string; current: boolean }> }).encryption_keys;
    expect(keys.map((k) => [k.id, k.current])).toEqual([[newId, true], ...before.encryption_keys.map((k) => [k.id, false])]);
    const table = await capy(["encryption", "keys", "list"]);
    expect(table.stdout).toContain(newId);
    expect(after.stdout + table.stdout + rotated.stdout + rotated.stderr).not.toContain("AGE-SECRET-KEY");
  });
});
