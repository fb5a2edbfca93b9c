import { router } from "../../trpc.js";
import { addRecipientProcedure } from "./add-recipient.js";
import { listKeysProcedure } from "./list-keys.js";
import { listRecipientsProcedure } from "./list-recipients.js";
import { removeRecipientProcedure } from "./remove-recipient.js";
import { rotateKeyProcedure } from "./rotate-key.js";

export const encryptionRouter = router({
  listRecipients: listRecipientsProcedure,
  addRecipient: addRecipientProcedure,
  removeRecipient: removeRecipientProcedure,
  listKeys: listKeysProcedure,
  rotateKey: rotateKeyProcedure,
});
