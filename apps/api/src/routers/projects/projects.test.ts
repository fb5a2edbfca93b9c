// GET /v1/projects over REST against the built API process: an organization key sees its
// organization's projects by name, a project key its own project only, another organization's
// key none of them.

import { Project } from "@capy/contracts";
import { createApiKey } from "@capy/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness, type Tenant } from "../../test/harness.js";

let h: Harness;
let sibling: Tenant;
let other: Tenant;

beforeAll(async () => {
  h = await startHarness();
  // "acme" owns "shop" (the harness's) and "analytics"; "globex" owns a project of its own.
  sibling = await h.stack.createTenant("acme", "analytics", h.source.url);
  other = await h.stack.createTenant("globex", "shop", h.source.url);
});
afterAll(async () => {
  await h?.stop();
});

const listed = (body: unknown) => (body as { projects: unknown[] }).projects.map((project) => Project.strict().parse(project));

describe("GET /v1/projects", () => {
  it("lists an organization's projects by name, every field present", async () => {
    const orgKey = await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "org" });
    const response = await request(h.api, "GET", "/v1/projects", { key: orgKey.plaintext });
    expect(response.status).toBe(200);
    const projects = listed(response.body);
    expect(projects.map((project) => [project.name, project.id])).toEqual([
      ["analytics", sibling.project_id],
      ["shop", h.tenant.project_id],
    ]);
    expect(projects[1]).toMatchObject({ organization_id: h.tenant.organization_id, database_name: h.source.name });
    expect(new Date(projects[1]!.created_at).toISOString()).toBe(projects[1]!.created_at);
  });

  it("shows a project key its own project only", async () => {
    const response = await request(h.api, "GET", "/v1/projects", { key: h.tenant.api_key });
    expect(listed(response.body).map((project) => project.id)).toEqual([h.tenant.project_id]);
    const elsewhere = await request(h.api, "GET", "/v1/projects", { key: other.api_key });
    expect(listed(elsewhere.body).map((project) => project.id)).toEqual([other.project_id]);
  });

  it("needs projects:read", async () => {
    const key = await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "jobs only", scopes: ["jobs:read"] });
    expectError(await request(h.api, "GET", "/v1/projects", { key: key.plaintext }), 403);
  });
});
