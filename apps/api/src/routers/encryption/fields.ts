// Input fields of the encryption procedures.
import { z } from "zod";
import { projectId } from "../fields.js";

export const recipientPath = { id: projectId, recipientID: z.string().min(1).describe("Encryption recipient id (`rcp_…`)") };
