import { Job } from "@capy/contracts";
import { z } from "zod";
import { findAccessibleProject } from "../../auth/access.js";
import { serializeJob } from "../../serializers.js";
import { requestVerification } from "../../services/verify.js";
import { scopedProcedure } from "../../trpc.js";
import { projectId } from "../fields.js";

export const VerifyBackupInput = z.strictObject({ id: projectId, backupID: z.string().min(1).describe("Backup id (`bkp_…`)") });
export const VerifyBackupOutput = z.object({ job: Job });

export const verifyBackupProcedure = scopedProcedure("backups:write")
  .meta({
    openapi: {
      method: "POST",
      path: "/projects/{id}/backups/{backupID}/verify",
      operationId: "verifyBackup",
      tags: ["backups"],
      summary: "Verify a backup again by restoring it",
      description:
        "Creates a pending `verify` job and answers 201 with it; poll GET /v1/jobs/{jobID}. The worker checks the stored artifact's SHA-256, restores it into a throwaway database and compares it with what the source held when the backup was taken; the backup's verification_state ends `verified` or `failed` (with verification_error).",
      protect: true,
      errorResponses: [409],
    },
    successStatus: 201,
  })
  .input(VerifyBackupInput)
  .output(VerifyBackupOutput)
  .mutation(async ({ ctx, input }) => {
    const project = await findAccessibleProject(ctx.tenancy, ctx.principal, input.id);
    const job = await requestVerification(ctx, project, input.backupID);
    return { job: serializeJob(job) };
  });
