import { router } from "../../trpc.js";
import { getMeProcedure } from "./get.js";

export const meRouter = router({
  get: getMeProcedure,
});
