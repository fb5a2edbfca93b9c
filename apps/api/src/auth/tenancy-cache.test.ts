// The tenancy cache (API keys and projects kept in each API process) against two real API
// processes on one metadata database. A revocation through either process's API applies to the
// very next request to either process (Redis message before the answer). Changes made outside
// the API (admin CLI, SQL) apply as soon as Postgres delivers its commit notification: those
// tests poll with a short deadline, far below the 60 s a stale entry would otherwise live.

import { createApiKey, revokeApiKey } from "@capy/db";
import { type ApiProcess, startApi, waitFor, withAdminClient } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";

let h: Harness;
/** Two API processes of one deployment. */
let apis: ApiProcess[];
let orgKey: string;
let keysPath: string;
/** Longest a change made outside the API may take to reach an API process (ms); entries live 60 s. */
const NOTIFY_DEADLINE_MS = 5_000;

beforeAll(async () => {
  h = await startHarness();
  apis = [h.api, await startApi(h.stack.env)];
  orgKey = (await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "org admin key" })).plaintext;
  keysPath = `/v1/organizations/${h.tenant.organization_id}/api-keys`;
});
afterAll(async () => {
  await apis?.[1]?.stop();
  await h?.stop();
});

const projectKey = (projectId = h.tenant.project_id, expiresAt?: Date) =>
  createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, projectId, name: "cached", expiresAt });

/** Waiting for Postgres's notification (changes made outside the API), up to NOTIFY_DEADLINE_MS. */
async function untilAnswers(api: ApiProcess, path: string, key: string, status: number, error: string): Promise<void> {
  const answer = await waitFor(
    async () => {
      const response = await request(api, "GET", path, { key });
      return response.status === status ? response : undefined;
    },
    { timeoutMs: NOTIFY_DEADLINE_MS, intervalMs: 10, what: `${path} to answer ${status}` },
  );
  expectError(answer, status, error);
}

/** Answers 200 from both processes, so both hold the key (and the project) in their caches. */
async function warm(key: string, path = `/v1/projects/${h.tenant.project_id}/backups`): Promise<void> {
  for (const api of apis) {
    for (let i = 0; i < 2; i++) expect((await request(api, "GET", path, { key })).status).toBe(200);
  }
}

describe("tenancy cache across two API processes", () => {
  it("a key revoked through one process is refused by the other on the very next request", async () => {
    for (let round = 0; round < 5; round++) {
      const key = await projectKey();
      await warm(key.plaintext);
      const [via, other] = round % 2 === 0 ? apis : [apis[1]!, apis[0]!];
      expect((await request(via!, "DELETE", `${keysPath}/${key.id}`, { key: orgKey })).status).toBe(200);
      expectError(await request(other!, "GET", "/v1/me", { key: key.plaintext }), 401, "API key has been revoked");
      expectError(await request(via!, "GET", "/v1/me", { key: key.plaintext }), 401, "API key has been revoked");
    }
  });

  it("a key revoked outside the API (admin CLI, SQL) is refused by both once Postgres notifies the commit", async () => {
    const key = await projectKey();
    await warm(key.plaintext);
    await revokeApiKey(h.stack.db, key.id);
    for (const api of apis) await untilAnswers(api, "/v1/me", key.plaintext, 401, "API key has been revoked");
  });

  it("a cached key stops working the moment it expires, in both processes", async () => {
    const expiresAt = new Date(Date.now() + 2_000);
    const key = await projectKey(h.tenant.project_id, expiresAt);
    await warm(key.plaintext);
    // Waiting for the clock, not for the system: no request in between.
    await waitFor(() => Date.now() > expiresAt.getTime(), { timeoutMs: 5_000, intervalMs: 20, what: "the expiry" });
    for (const api of apis) expectError(await request(api, "GET", "/v1/me", { key: key.plaintext }), 401, "API key has expired");
  });

  it("a deleted project is not found by either process once Postgres notifies the commit", async () => {
    const doomed = await h.stack.createTenant("acme", "doomed", h.source.url);
    const path = `/v1/projects/${doomed.project_id}/backups`;
    await warm(orgKey, path);
    await h.stack.db.project.delete({ where: { id: doomed.project_id } });
    for (const api of apis) await untilAnswers(api, path, orgKey, 404, "project not found");
  });

  it("a key moved to another project acts on the new one only, in both processes", async () => {
    const other = await h.stack.createTenant("acme", "moved-to", h.source.url);
    const key = await projectKey();
    await warm(key.plaintext);
    await h.stack.db.apiKey.update({ where: { id: key.id }, data: { projectId: other.project_id } });
    for (const api of apis) {
      await untilAnswers(api, `/v1/projects/${h.tenant.project_id}/backups`, key.plaintext, 404, "project not found");
      expect((await request(api, "GET", `/v1/projects/${other.project_id}/backups`, { key: key.plaintext })).status).toBe(200);
    }
  });

  it("a project moved to another organization is not found by its old organization's keys", async () => {
    const moving = await h.stack.createTenant("acme", "moving", h.source.url);
    const globex = await h.stack.createTenant("globex-cache", "shop", h.source.url);
    const path = `/v1/projects/${moving.project_id}/backups`;
    await warm(orgKey, path);
    await h.stack.db.project.update({ where: { id: moving.project_id }, data: { organizationId: globex.organization_id } });
    for (const api of apis) await untilAnswers(api, path, orgKey, 404, "project not found");
  });

  it("while its Postgres feed is disconnected a process reads Postgres; once back, changes apply again", async () => {
    const key = await projectKey();
    await warm(key.plaintext);
    // Cut every API process's LISTEN session (they reconnect by themselves), and wait until
    // those sessions are gone: a change committed meanwhile is never notified to them.
    const listeners = () =>
      withAdminClient(async (client) =>
        (await client.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN capy_tenancy_changed'", [h.stack.metadata.name])).rows.map(
          (row: { pid: number }) => row.pid,
        ),
      );
    const cut = await listeners();
    expect(cut).toHaveLength(2);
    await withAdminClient((client) => client.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [cut]));
    await waitFor(async () => (await listeners()).every((pid) => !cut.includes(pid)), { what: "the LISTEN sessions to end" });
    // Revoked in SQL while no process listens: only reading Postgres can see it.
    await revokeApiKey(h.stack.db, key.id);
    for (const api of apis) expectError(await request(api, "GET", "/v1/me", { key: key.plaintext }), 401, "API key has been revoked");
    // Both feeds come back (a LISTEN session each), and the cache keeps honouring changes.
    await waitFor(async () => (await listeners()).length === 2, { timeoutMs: 15_000, what: "the change feeds to reconnect" });
    const next = await projectKey();
    await warm(next.plaintext);
    await revokeApiKey(h.stack.db, next.id);
    for (const api of apis) await untilAnswers(api, "/v1/me", next.plaintext, 401, "API key has been revoked");
  });
});
