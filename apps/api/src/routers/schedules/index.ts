import { router } from "../../trpc.js";
import { listSchedulesProcedure } from "./list.js";
import { putDefaultScheduleProcedure } from "./put-default.js";

export const schedulesRouter = router({
  list: listSchedulesProcedure,
  putDefault: putDefaultScheduleProcedure,
});
