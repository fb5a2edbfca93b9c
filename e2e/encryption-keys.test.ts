// Rotating CAPY_ENCRYPTION_KEY with real processes: the API and workers refuse to start (one
// line naming the variables) with a key that opens none of the stored secrets; the documented
// procedure (new key current, old one in CAPY_ENCRYPTION_KEYS_OLD, restart, rotate, remove)
// re-seals every secret while backups run, and every backup still completes and verifies.

import { Job } from "@capy/contracts";
import { encryptSecret, generateEncryptionKey, keyId, sealedKeyId } from "@capy/db";
import { createPgbenchDatabase, createTestStack, freePort, runToExit, type TestDatabase, type TestStack, waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

const PROJECTS = 4;
/** Secrets stored: the cluster's login, and each project's password and platform encryption key. */
const SECRETS = 1 + 2 * PROJECTS;
const BACKUPS_PER_PROJECT = 3;

let stack: TestStack;
let sources: TestDatabase[] = [];
const tenants: Array<{ project_id: string; api_key: string }> = [];
const newKey = generateEncryptionKey();
const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);

beforeAll(async () => {
  [stack, ...sources] = await Promise.all([createTestStack(), ...Array.from({ length: PROJECTS }, () => createPgbenchDatabase(1))]);
  for (const [i, source] of sources.entries()) tenants.push(await stack.createTenant("acme", `p${i}`, source.url));
  // One password in the form written before the keyring (no key id), under the same old key.
  await stack.db.project.update({ where: { id: tenants[0]!.project_id }, data: { dbPasswordEncrypted: encryptSecret("postgres", stack.encryptionKey) } });
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all(sources.map((s) => s.drop()));
});

/** Every stored secret's key id ("v1" for the form without one). */
async function storedKeyIds(): Promise<string[]> {
  const clusters = await stack.db.cluster.findMany();
  const projects = await stack.db.project.findMany();
  const platformKeys = await stack.db.projectEncryptionKey.findMany();
  return [
    ...clusters.map((c) => c.adminPasswordEncrypted),
    ...projects.map((p) => p.dbPasswordEncrypted),
    ...platformKeys.map((k) => k.privateKeyEncrypted),
  ].map((v) => sealedKeyId(v!) ?? "v1");
}

async function rotate(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const { code, output } = await runToExit(
    "packages/db/dist/admin/cli.js",
    { ...stack.env, ...env },
    {
      args: ["rotate-encryption-key", "--json"],
      timeoutMs: 60_000,
    },
  );
  expect(code, output).toBe(0);
  // Exactly one JSON line, as `pnpm --silent admin rotate-encryption-key --json` prints it.
  return JSON.parse(output.trim()) as Record<string, unknown>;
}

describe("start-up check", () => {
  it.each([
    ["api", "apps/api/dist/main.js"],
    ["worker", "apps/worker/dist/main.js"],
  ])("the %s refuses to start with a key that opens none of the stored secrets, in one line naming the variables", async (_name, entry) => {
    const { code, output } = await runToExit(entry, {
      ...stack.env,
      CAPY_ENCRYPTION_KEY: generateEncryptionKey(),
      PORT: String(await freePort()),
      HOST: "127.0.0.1",
    });
    expect(code).toBe(1);
    const lines = output.trim().split("\n");
    expect(lines, output).toHaveLength(1);
    expect(lines[0]).toContain(
      `none of the ${SECRETS} stored secrets in the metadata database (sealed under key ${keyId(stack.encryptionKey)}, a key without id (v1 form))`,
    );
    expect(lines[0]).toMatch(/CAPY_ENCRYPTION_KEY .*CAPY_ENCRYPTION_KEYS_OLD/);
  });
});

describe("rotate-encryption-key under load", () => {
  it("re-seals every secret while backups run; every backup completes and verifies, before and after the old key is removed", async () => {
    // Step 1: the new key is current, the old one moves to CAPY_ENCRYPTION_KEYS_OLD; restart.
    const rotating = { CAPY_ENCRYPTION_KEY: newKey, CAPY_ENCRYPTION_KEYS_OLD: stack.encryptionKey };
    await Promise.all([stack.startApi(rotating), stack.startWorker(rotating), stack.startWorker(rotating)]);
    const jobIds: Array<{ key: string; id: string }> = [];
    for (let round = 0; round < BACKUPS_PER_PROJECT; round++) {
      for (const tenant of tenants) {
        const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, { label: `r${round}` });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        jobIds.push({ key: tenant.api_key, id: Job.parse(created.body.job).id });
      }
    }
    await waitFor(async () => (await stack.db.job.count({ where: { state: "running" } })) > 0, { timeoutMs: 60_000, what: "a running backup" });

    // Step 2: rotate while the backups run.
    const report = await rotate(rotating);
    const unfinished = await stack.db.job.count({ where: { state: { in: ["pending", "running"] } } });
    expect(report).toEqual({
      key_id: keyId(newKey),
      resealed: SECRETS,
      already_current: 0,
      failed: 0,
      columns: {
        "clusters.admin_password_encrypted": { resealed: 1, already_current: 0, failed: 0, failed_ids: [] },
        "projects.db_password_encrypted": { resealed: PROJECTS, already_current: 0, failed: 0, failed_ids: [] },
        "preview_databases.password_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "webhooks.secret_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "webhooks.previous_secret_encrypted": { resealed: 0, already_current: 0, failed: 0, failed_ids: [] },
        "project_encryption_keys.private_key_encrypted": { resealed: PROJECTS, already_current: 0, failed: 0, failed_ids: [] },
      },
    });
    expect(unfinished, "backups were still running or waiting when the rotation ended").toBeGreaterThan(0);
    expect(new Set(await storedKeyIds())).toEqual(new Set([keyId(newKey)]));

    for (const { key, id } of jobIds) {
      const job = await pollJob(key, id);
      expect(job.state, job.error ?? "").toBe("completed");
    }
    expect(await stack.db.backup.count({ where: { verificationState: "verified" } })).toBe(jobIds.length);

    // Idempotent.
    expect(await rotate(rotating)).toMatchObject({ resealed: 0, already_current: SECRETS, failed: 0 });

    // Step 3: remove the old key and restart; backups still complete.
    await Promise.all(stack.workers.splice(0).map((w) => w.stop()));
    await stack.api!.stop();
    const onlyNew = { CAPY_ENCRYPTION_KEY: newKey, CAPY_ENCRYPTION_KEYS_OLD: "" };
    await Promise.all([stack.startApi(onlyNew), stack.startWorker(onlyNew)]);
    const tenant = tenants[0]!;
    const created = await api(tenant.api_key, "POST", `/v1/projects/${tenant.project_id}/backups`, {});
    const job = await pollJob(tenant.api_key, Job.parse(created.body.job).id);
    expect(job.state, job.error ?? "").toBe("completed");
  });
});
