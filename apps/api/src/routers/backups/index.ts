import { router } from "../../trpc.js";
import { createBackupProcedure } from "./create.js";
import { listBackupsProcedure } from "./list.js";
import { verifyBackupProcedure } from "./verify.js";

export const backupsRouter = router({
  list: listBackupsProcedure,
  create: createBackupProcedure,
  verify: verifyBackupProcedure,
});
