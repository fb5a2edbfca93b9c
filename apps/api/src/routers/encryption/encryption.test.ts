// The encryption endpoints against the built API process: customer recipients (validation, 409 on
// a duplicate, removal, tenancy), platform keys listed with their public parts only, rotation, and
// the audit events of every change.

import { createHash } from "node:crypto";
import { EncryptionKey, EncryptionRecipient } from "@capy/contracts";
import { createApiKey, openEncryptionIdentity } from "@capy/db";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_RECIPIENTS_PER_PROJECT } from "../../services/encryption.js";
import { expectError, type Harness, request, startHarness, type Tenant } from "../../test/harness.js";

let h: Harness;
let orgKey: string;
/** A project of another organization. */
let globex: Tenant;

beforeAll(async () => {
  h = await startHarness();
  orgKey = (await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "org" })).plaintext;
  globex = await h.stack.createTenant("globex", "shop", h.source.url);
});
afterAll(async () => {
  await h?.stop();
});

const recipients = (tenant: Tenant = h.tenant) => `/v1/projects/${tenant.project_id}/encryption-recipients`;
const keys = (tenant: Tenant = h.tenant) => `/v1/projects/${tenant.project_id}/encryption-keys`;
const add = (json: Record<string, unknown>, tenant: Tenant = h.tenant) => request(h.api, "POST", recipients(tenant), { key: tenant.api_key, json });
const newRecipient = async () => identityToRecipient(await generateX25519Identity());
const recipientOf = (body: unknown) => EncryptionRecipient.strict().parse((body as { encryption_recipient: unknown }).encryption_recipient);
const keysOf = (body: unknown) => (body as { encryption_keys: unknown[] }).encryption_keys.map((key) => EncryptionKey.strict().parse(key));

async function auditEvents(action: string): Promise<Array<{ target_id: string; project_id: string | null; metadata: unknown }>> {
  const response = await request(h.api, "GET", `/v1/organizations/${h.tenant.organization_id}/audit-events`, { key: orgKey });
  const events = (response.body as { audit_events: Array<{ action: string; target_id: string; project_id: string | null; metadata: unknown }> }).audit_events;
  return events.filter((event) => event.action === action);
}

describe("encryption recipients", () => {
  it("adds a customer's public key, lists it and audits it", async () => {
    const publicKey = await newRecipient();
    const created = await add({ label: "offline laptop", public_key: `  ${publicKey}\n` });
    expect(created.status).toBe(201);
    const recipient = recipientOf(created.body);
    expect(recipient).toMatchObject({ project_id: h.tenant.project_id, label: "offline laptop", public_key: publicKey });
    expect(recipient.id).toMatch(/^rcp_/);
    expect(recipient.fingerprint).toBe(createHash("sha256").update(publicKey).digest("hex"));

    const listed = await request(h.api, "GET", recipients(), { key: h.tenant.api_key });
    expect(listed.status).toBe(200);
    expect((listed.body as { encryption_recipients: unknown[] }).encryption_recipients.map((r) => EncryptionRecipient.strict().parse(r))).toContainEqual(
      recipient,
    );
    expect((await auditEvents("encryption_recipient.created")).find((e) => e.target_id === recipient.id)).toEqual(
      expect.objectContaining({ project_id: h.tenant.project_id, metadata: { label: "offline laptop", fingerprint: recipient.fingerprint } }),
    );
  });

  it("refuses what is not an age X25519 public key with a 400 saying what is expected", async () => {
    const valid = await newRecipient();
    const flipped = `${valid.slice(0, -1)}${valid.endsWith("q") ? "p" : "q"}`;
    for (const publicKey of ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "age1pq1xyz", valid.toUpperCase()]) {
      expectError(
        await add({ label: "bad", public_key: publicKey }),
        400,
        /^public_key must be an age X25519 public key: age1 followed by 58 lower-case characters/,
      );
    }
    expectError(
      await add({ label: "bad", public_key: flipped }),
      400,
      /^public_key is not a valid age recipient \(bad checksum\?\); expected an age X25519 public key/,
    );
    expectError(await add({ public_key: valid }), 400, /^label: /);
    expectError(await add({ label: "  ", public_key: valid }), 400, /^label: /);
    expectError(await add({ label: "x", public_key: valid, private_key: "AGE-SECRET-KEY-1" }), 400);
  });

  it("answers 409 for a key the project already has (however it is spaced), and for one past the limit", async () => {
    const publicKey = await newRecipient();
    const first = recipientOf((await add({ label: "a", public_key: publicKey })).body);
    expectError(await add({ label: "b", public_key: ` ${publicKey} ` }), 409, `public_key is already recipient ${first.id} of this project`);

    // Another project may add the same key.
    expect((await add({ label: "shared", public_key: publicKey }, globex)).status).toBe(201);

    const existing = await h.stack.db.encryptionRecipient.count({ where: { projectId: h.tenant.project_id } });
    for (let i = existing; i < MAX_RECIPIENTS_PER_PROJECT; i++) expect((await add({ label: `r${i}`, public_key: await newRecipient() })).status).toBe(201);
    expectError(await add({ label: "one too many", public_key: await newRecipient() }), 409, /at most 20 encryption recipients; remove one first/);
    // Make room for the other tests.
    await h.stack.db.encryptionRecipient.deleteMany({ where: { projectId: h.tenant.project_id, label: { startsWith: "r" } } });
  });

  it("removes a recipient, answering it as it was; a second removal and an unknown id are 404s", async () => {
    const recipient = recipientOf((await add({ label: "to remove", public_key: await newRecipient() })).body);
    const removed = await request(h.api, "DELETE", `${recipients()}/${recipient.id}`, { key: h.tenant.api_key });
    expect(removed.status).toBe(200);
    expect(recipientOf(removed.body)).toEqual(recipient);
    const listed = (await request(h.api, "GET", recipients(), { key: h.tenant.api_key })).body as { encryption_recipients: Array<{ id: string }> };
    expect(listed.encryption_recipients.map((r) => r.id)).not.toContain(recipient.id);
    expectError(await request(h.api, "DELETE", `${recipients()}/${recipient.id}`, { key: h.tenant.api_key }), 404, "encryption recipient not found");
    expectError(await request(h.api, "DELETE", `${recipients()}/rcp_missing`, { key: h.tenant.api_key }), 404, "encryption recipient not found");
    expect((await auditEvents("encryption_recipient.deleted")).find((e) => e.target_id === recipient.id)?.metadata).toEqual({
      label: "to remove",
      fingerprint: recipient.fingerprint,
    });
  });

  it("hides another tenant's project and recipients behind 404s", async () => {
    const theirs = recipientOf((await add({ label: "theirs", public_key: await newRecipient() }, globex)).body);
    expectError(await request(h.api, "GET", recipients(globex), { key: h.tenant.api_key }), 404, "project not found");
    expectError(await add({ label: "x", public_key: await newRecipient() }, { ...globex, api_key: h.tenant.api_key }), 404, "project not found");
    // Their recipient id under our own project: not ours, exactly like a missing one.
    expectError(await request(h.api, "DELETE", `${recipients()}/${theirs.id}`, { key: h.tenant.api_key }), 404, "encryption recipient not found");
    expect(await h.stack.db.encryptionRecipient.count({ where: { id: theirs.id } })).toBe(1);
  });
});

describe("platform encryption keys", () => {
  it("lists the project's key, rotates it, and then lists both with public parts only", async () => {
    const before = await request(h.api, "GET", keys(), { key: h.tenant.api_key });
    expect(before.status).toBe(200);
    const [original] = keysOf(before.body);
    // createProject made it.
    expect(keysOf(before.body)).toHaveLength(1);
    expect(original).toMatchObject({ project_id: h.tenant.project_id, current: true, retired_at: null });
    expect(original!.public_key).toMatch(/^age1[0-9a-z]{58}$/);

    const rotated = await request(h.api, "POST", `${keys()}/rotate`, { key: h.tenant.api_key });
    expect(rotated.status).toBe(201);
    const fresh = EncryptionKey.strict().parse((rotated.body as { encryption_key: unknown }).encryption_key);
    expect(fresh).toMatchObject({ project_id: h.tenant.project_id, current: true, retired_at: null });
    expect(fresh.fingerprint).toBe(createHash("sha256").update(fresh.public_key).digest("hex"));
    expect(fresh.id).not.toBe(original!.id);

    const after = await request(h.api, "GET", keys(), { key: h.tenant.api_key });
    const listed = keysOf(after.body);
    expect(listed.map((k) => [k.id, k.current])).toEqual([
      [fresh.id, true],
      [original!.id, false],
    ]);
    expect(listed[1]!.retired_at).not.toBeNull();
    expect(listed[1]!.public_key).toBe(original!.public_key);

    // Neither identity appears in any answer, in any form.
    const bodies = JSON.stringify([before.body, rotated.body, after.body]);
    expect(bodies).not.toMatch(/AGE-SECRET-KEY|private/i);
    for (const id of [original!.id, fresh.id]) {
      const identity = await openEncryptionIdentity(h.stack.db, h.stack.keyring, id);
      expect(bodies).not.toContain(identity.slice("AGE-SECRET-KEY-1".length));
      expect(await identityToRecipient(identity)).toBe(listed.find((k) => k.id === id)!.public_key);
    }
    expect((await auditEvents("encryption_key.rotated")).find((e) => e.target_id === fresh.id)).toEqual(
      expect.objectContaining({ project_id: h.tenant.project_id, metadata: { public_key: fresh.public_key } }),
    );
  });

  it("hides another tenant's keys and refuses to rotate them (404)", async () => {
    const theirs = await h.stack.db.projectEncryptionKey.findMany({ where: { projectId: globex.project_id } });
    expectError(await request(h.api, "GET", keys(globex), { key: h.tenant.api_key }), 404, "project not found");
    expectError(await request(h.api, "POST", `${keys(globex)}/rotate`, { key: orgKey }), 404, "project not found");
    expect(await h.stack.db.projectEncryptionKey.findMany({ where: { projectId: globex.project_id } })).toEqual(theirs);
  });
});
