// Test harness: a fresh stack (metadata database, Redis prefix, storage directory), one tenant
// on a real source database, and the built API (apps/api/dist/main.js) as a real process.
// Rebuild before running the tests.

import { type Backup, newId, type Prisma } from "@capy/db";
import { type ApiProcess, createEmptyDatabase, createTestStack, type TestDatabase, type TestStack } from "@capy/testing";
import { expect } from "vitest";

export type Tenant = Awaited<ReturnType<TestStack["createTenant"]>>;

export interface Harness {
  stack: TestStack;
  api: ApiProcess;
  /** A real (empty) database the tenants' projects point at. */
  source: TestDatabase;
  /** Organization "acme", project "shop", with a project key holding every project scope. */
  tenant: Tenant;
  stop(): Promise<void>;
}

/** `apiEnv` is added to the API process's environment (e.g. session-token settings). */
export async function startHarness(apiEnv: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const stack = await createTestStack();
  // Leave nothing behind when setup fails half way.
  const source = await createEmptyDatabase().catch(async (error: unknown) => {
    await stack.stop();
    throw error;
  });
  try {
    const tenant = await stack.createTenant("acme", "shop", source.url);
    const api = await stack.startApi(apiEnv);
    const stop = async () => {
      await stack.stop();
      await source.drop();
    };
    return { stack, api, source, tenant, stop };
  } catch (error) {
    await stack.stop();
    await source.drop();
    throw error;
  }
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON; undefined for an empty or non-JSON body. */
  body: unknown;
}

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  headers?: Record<string, string>;
  /** Serialised as JSON, with Content-Type application/json. */
  json?: unknown;
  /** Sent as is, with whatever Content-Type `headers` give. */
  rawBody?: string;
}

export async function request(api: ApiProcess, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.json !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.rawBody,
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body };
}

/** The REST error contract: exactly `{ "error": "<message>" }` and the status, no internals. */
export function expectError(response: ApiResponse, status: number, message?: string | RegExp): void {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(response.body).toEqual({ error: expect.any(String) });
  const { error } = response.body as { error: string };
  expect(error).not.toMatch(/\n\s+at |node_modules|\.ts:\d|\.js:\d/);
  if (typeof message === "string") expect(error).toBe(message);
  else if (message) expect(error).toMatch(message);
}

/**
 * Records a completed backup row of the tenant's organization, in its project unless `fields`
 * say otherwise; `fields` set any column. No artifact is stored: a test that downloads one puts
 * it at the row's `backupKey` itself.
 */
export function insertBackupRow(h: Harness, fields: Partial<Prisma.BackupUncheckedCreateInput> = {}): Promise<Backup> {
  const id = fields.id ?? newId("bkp");
  const projectId = fields.projectId ?? h.tenant.project_id;
  return h.stack.db.backup.create({
    data: {
      id,
      organizationId: h.tenant.organization_id,
      projectId,
      jobId: newId("job"),
      databaseName: h.source.name,
      backupKey: `projects/${projectId}/backups/${id}.dump`,
      sizeBytes: 123_456_789n,
      sha256: "0".repeat(64),
      state: "completed",
      ...fields,
    },
  });
}
