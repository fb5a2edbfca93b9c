import { router } from "../../trpc.js";
import { createBackupProcedure } from "./create.js";
import { listBackupsProcedure } from "./list.js";

export const backupsRouter = router({
  list: listBackupsProcedure,
  create: createBackupProcedure,
});
