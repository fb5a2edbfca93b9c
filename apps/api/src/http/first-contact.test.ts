// What a first user meets with curl: JSON bodies that are not objects, an empty body where one is
// optional, the bare /docs address, and how a 401 says to authenticate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const NOT_OBJECTS = ["[]", "123", '"x"', "null", "true"];

describe("request bodies", () => {
  it("answers 400 { error } to a JSON body that is not an object, on every endpoint taking a body", async () => {
    const project = `/v1/projects/${h.tenant.project_id}`;
    const endpoints = [
      ["POST", `${project}/backups`],
      ["PUT", `${project}/scheduled-backups/default`],
      ["POST", `${project}/backups/bkp_missing/verify`],
      ["POST", "/v1/jobs/job_missing/cancel"],
      ["POST", `/v1/organizations/${h.tenant.organization_id}/api-keys`],
    ] as const;
    for (const [method, path] of endpoints) {
      for (const rawBody of NOT_OBJECTS) {
        const response = await request(h.api, method, path, { key: h.tenant.api_key, headers: { "content-type": "application/json" }, rawBody });
        expectError(response, 400, "request body must be a JSON object");
      }
    }
    // Nothing was started by any of them.
    expect((await request(h.api, "GET", `${project}/jobs`, { key: h.tenant.api_key })).body).toEqual({ jobs: [] });
  });

  it("takes an absent or empty body on POST …/backups as no options", async () => {
    const path = `/v1/projects/${h.tenant.project_id}/backups`;
    const absent = await request(h.api, "POST", path, { key: h.tenant.api_key });
    const empty = await request(h.api, "POST", path, { key: h.tenant.api_key, headers: { "content-type": "application/json" }, rawBody: "" });
    const emptyObject = await request(h.api, "POST", path, { key: h.tenant.api_key, json: {} });
    for (const response of [absent, empty, emptyObject]) expect(response).toMatchObject({ status: 201, body: { job: { state: "pending" } } });
  });
});

describe("/docs", () => {
  it("redirects the bare address with a Location and a body a curl user sees", async () => {
    const response = await fetch(`${h.api.baseUrl}/docs`, { redirect: "manual" });
    expect(response.status).toBe(301);
    expect(response.headers.get("location")).toBe("/docs/");
    expect(await response.text()).toBe("The API reference is at /docs/\n");
    const page = await fetch(`${h.api.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
  });
});

describe("401 answers", () => {
  it("carry WWW-Authenticate: Bearer on REST, native tRPC and the download route", async () => {
    const input = encodeURIComponent(JSON.stringify({ id: h.tenant.project_id }));
    const refusals = await Promise.all([
      request(h.api, "GET", "/v1/me"),
      request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/backups`, { key: "capy_live_not-a-key" }),
      request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { json: {} }),
      request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/backups/bkp_x/download`),
      request(h.api, "GET", `/trpc/backups.list?input=${input}`),
    ]);
    for (const [index, response] of refusals.entries()) {
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate"), `refusal ${index}`).toMatch(/^Bearer\b/);
    }
    const ok = await request(h.api, "GET", "/v1/me", { key: h.tenant.api_key });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("www-authenticate")).toBeNull();
  });
});
