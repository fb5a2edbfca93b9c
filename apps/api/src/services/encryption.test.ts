// What the encryption service refuses before touching the database (no database needed): a
// rotation without a keyring to seal the new identity, and a public key that is not age X25519.
import type { Db, Project } from "@capy/db";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import { addRecipient, rotatePlatformKey } from "./encryption.js";

/** Any database call fails the test: these refusals must come first. */
const noDb = new Proxy({}, { get: (_target, name) => expect.fail(`database touched (${String(name)})`) }) as Db;
const project = { id: "prj_test" } as Project;

describe("encryption service refusals", () => {
  it("refuses to rotate without CAPY_ENCRYPTION_KEY (503, naming the variable)", async () => {
    const refusal = rotatePlatformKey(noDb, undefined, project);
    await expect(refusal).rejects.toBeInstanceOf(AppError);
    await expect(refusal).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503, message: expect.stringContaining("CAPY_ENCRYPTION_KEY") });
  });

  it("refuses a public key that is not age X25519 (400) before any query", async () => {
    await expect(addRecipient(noDb, project, "ssh", "ssh-ed25519 AAAA")).rejects.toMatchObject({ code: "BAD_REQUEST", status: 400 });
  });
});
