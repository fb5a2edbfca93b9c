// A SCRAM-SHA-256 verifier computed here, so CREATE/ALTER ROLE … PASSWORD carries the verifier
// and never the plaintext (the statement may reach the server's logs). RFC 5802 / RFC 7677, in
// the form PostgreSQL stores: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/** PostgreSQL's default (scram_iterations). */
const ITERATIONS = 4096;

export function scramSha256Verifier(password: string, salt = randomBytes(16)): string {
  // Generated passwords are ASCII, for which SASLprep is the identity.
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
