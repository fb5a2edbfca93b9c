import { router } from "../../trpc.js";
import { listProjectsProcedure } from "./list.js";

export const projectsRouter = router({
  list: listProjectsProcedure,
});
