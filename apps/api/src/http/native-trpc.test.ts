// The fast path of native tRPC answers single calls exactly as tRPC's own handler does: every
// call below is sent once as a single call (the fast path) and once as a batch of one (always
// tRPC's handler), and the two answers must match in status, the headers tRPC sets and body.
import { createApiKey } from "@capy/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiResponse, type Harness, request, startHarness } from "../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

interface Call {
  method: "GET" | "POST";
  path: string;
  input: unknown;
  key?: string;
  headers?: Record<string, string>;
}

const query = (input: unknown) => encodeURIComponent(JSON.stringify(input));

/** The call answered by the fast path (single) and by tRPC's handler (a batch of one). */
async function both({ method, path, input, key, headers }: Call): Promise<{ single: ApiResponse; batched: ApiResponse }> {
  if (method === "GET") {
    return {
      single: await request(h.api, "GET", `/trpc/${path}?input=${query(input)}`, { key, headers }),
      batched: await request(h.api, "GET", `/trpc/${path}?batch=1&input=${query({ 0: input })}`, { key, headers }),
    };
  }
  return {
    single: await request(h.api, "POST", `/trpc/${path}`, { key, headers, json: input }),
    batched: await request(h.api, "POST", `/trpc/${path}?batch=1`, { key, headers, json: { 0: input } }),
  };
}

async function expectSameAnswer(call: Call, status: number): Promise<ApiResponse> {
  const { single, batched } = await both(call);
  expect(single.status).toBe(status);
  expect(batched.status).toBe(status);
  expect([single.body]).toEqual(batched.body);
  for (const header of ["content-type", "vary", "www-authenticate"]) expect(single.headers.get(header)).toBe(batched.headers.get(header));
  // The fast path answered the single call (a whole body with its length); tRPC's handler
  // streams its Response (chunked).
  expect(single.headers.get("content-length")).not.toBeNull();
  expect(batched.headers.get("transfer-encoding")).toBe("chunked");
  return single;
}

describe("native tRPC fast path", () => {
  it("answers queries as tRPC does", async () => {
    const key = h.tenant.api_key;
    await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key, json: { label: "one" } });
    await expectSameAnswer({ method: "GET", path: "backups.list", input: { id: h.tenant.project_id }, key }, 200);
    const jobs = await expectSameAnswer({ method: "GET", path: "jobs.list", input: { id: h.tenant.project_id, limit: 5 }, key }, 200);
    const [job] = (jobs.body as { result: { data: { jobs: { id: string }[] } } }).result.data.jobs;
    await expectSameAnswer({ method: "GET", path: "jobs.get", input: { jobID: job!.id }, key }, 200);
    await expectSameAnswer({ method: "GET", path: "me.get", input: {}, key }, 200);
  });

  it("answers mutations as tRPC does (the same job under one Idempotency-Key)", async () => {
    const headers = { "idempotency-key": "native-trpc-test" };
    await expectSameAnswer({ method: "POST", path: "backups.create", input: { id: h.tenant.project_id, label: "x" }, key: h.tenant.api_key, headers }, 200);
  });

  it("answers refusals and bad input with tRPC's error shape and status", async () => {
    const limited = await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "limited", scopes: ["jobs:read"] });
    const backups = { method: "GET", path: "backups.list", input: { id: h.tenant.project_id } } as const;
    const unauthorized = await expectSameAnswer(backups, 401);
    expect(unauthorized.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectSameAnswer({ ...backups, key: "capy_live_not_a_key" }, 401);
    await expectSameAnswer({ ...backups, key: limited.plaintext }, 403);
    await expectSameAnswer({ ...backups, key: h.tenant.api_key, input: { id: "prj_missing" } }, 404);
    await expectSameAnswer({ ...backups, key: h.tenant.api_key, input: { id: 42 } }, 400);
    await expectSameAnswer({ method: "POST", path: "backups.create", input: { id: h.tenant.project_id, label: 7 }, key: h.tenant.api_key }, 400);
  });

  it("leaves what it does not take to tRPC's handler", async () => {
    const key = h.tenant.api_key;
    // A mutation by GET, an unknown procedure, input that is not JSON.
    expect((await request(h.api, "GET", `/trpc/backups.create?input=${query({ id: h.tenant.project_id })}`, { key })).status).toBe(405);
    expect((await request(h.api, "GET", `/trpc/nothing.here?input=${query({})}`, { key })).status).toBe(404);
    const notJson = await request(h.api, "GET", `/trpc/backups.list?input=%7Bnot-json`, { key });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get("transfer-encoding")).toBe("chunked");
  });
});
