import { router } from "../../trpc.js";
import { createApiKeyProcedure } from "./create.js";
import { listApiKeysProcedure } from "./list.js";
import { revokeApiKeyProcedure } from "./revoke.js";

export const apiKeysRouter = router({
  list: listApiKeysProcedure,
  create: createApiKeyProcedure,
  revoke: revokeApiKeyProcedure,
});
