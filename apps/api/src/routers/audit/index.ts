import { router } from "../../trpc.js";
import { listAuditEventsProcedure } from "./list.js";

export const auditRouter = router({
  list: listAuditEventsProcedure,
});
