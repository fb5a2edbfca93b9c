import { router } from "../../trpc.js";
import { createBackupProcedure } from "./create.js";
import { deleteBackupProcedure } from "./delete.js";
import { listBackupsProcedure } from "./list.js";
import { verifyBackupProcedure } from "./verify.js";

export const backupsRouter = router({
  list: listBackupsProcedure,
  create: createBackupProcedure,
  verify: verifyBackupProcedure,
  delete: deleteBackupProcedure,
});
