import { router } from "../../trpc.js";
import { previewCredentialsProcedure } from "./credentials.js";
import { deletePreviewProcedure } from "./delete.js";
import { getPreviewProcedure } from "./get.js";
import { listPreviewsProcedure } from "./list.js";

export const previewsRouter = router({
  list: listPreviewsProcedure,
  get: getPreviewProcedure,
  delete: deletePreviewProcedure,
  credentials: previewCredentialsProcedure,
});
