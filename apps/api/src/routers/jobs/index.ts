import { router } from "../../trpc.js";
import { cancelJobProcedure } from "./cancel.js";
import { getJobProcedure } from "./get.js";
import { listJobsProcedure } from "./list.js";

export const jobsRouter = router({
  list: listJobsProcedure,
  get: getJobProcedure,
  cancel: cancelJobProcedure,
});
