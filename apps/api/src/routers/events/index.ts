import { router } from "../../trpc.js";
import { listEventsProcedure } from "./list.js";

export const eventsRouter = router({
  list: listEventsProcedure,
});
