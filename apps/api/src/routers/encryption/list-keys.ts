import { EncryptionKey } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { listPlatformKeys } from "../../services/encryption.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";
import { serializePlatformKey } from "./serialize.js";

export const ListKeysInput = z.strictObject({ id: projectId });
export const ListKeysOutput = z.object({ encryption_keys: z.array(EncryptionKey) });

export const listKeysProcedure = scopedProcedure("backups:read")
  .meta({
    openapi: {
      method: "GET",
      path: "/projects/{id}/encryption-keys",
      operationId: "listEncryptionKeys",
      tags: ["encryption"],
      summary: "List the project's platform encryption keys, newest first (public parts only)",
      description:
        "The current key (current: true) is the one new artifacts are encrypted to; retired keys still decrypt the artifacts made with them " +
        "(each backup's encryption_key_id). Private keys are never returned.",
      protect: true,
    },
  })
  .input(ListKeysInput)
  .output(ListKeysOutput)
  .query(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    return { encryption_keys: (await listPlatformKeys(ctx.db, project)).map(serializePlatformKey) };
  });
