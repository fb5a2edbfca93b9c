import { router } from "../../trpc.js";
import { createRestoreProcedure } from "./create.js";

export const restoresRouter = router({ create: createRestoreProcedure });
