// The start-up check of the API and the workers: do the stored secrets (SECRET_COLUMNS) open
// with this process's keyring? One sample per key id per column is opened, so the check costs
// one grouped query per column whatever the number of rows. When secrets are stored and none
// opens, the configuration is wrong for all of them: the process refuses to start with one line
// naming the variables, instead of failing every job one by one. When only some do not open
// (one stale row, a key removed before its rotation finished), it starts and warns.
import type { Db } from "../client.js";
import { SECRET_COLUMNS, type SecretColumn, secretsByKey } from "./columns.js";
import { type Keyring, opensWith } from "./keyring.js";

export class StoredSecretsError extends Error {}

export interface SecretsCheck {
  /** Stored secrets (non-null values) across every column. */
  stored: number;
  /** Of those, how many are in a group whose sample this keyring does not open. */
  undecryptable: number;
  /** Key ids (v2) of the groups that do not open; "v1" for values without an id. */
  unknownKeyIds: string[];
}

export async function checkStoredSecrets(db: Db, keyring: Keyring | undefined, columns: readonly SecretColumn[] = SECRET_COLUMNS): Promise<SecretsCheck> {
  const check: SecretsCheck = { stored: 0, undecryptable: 0, unknownKeyIds: [] };
  for (const column of columns) {
    for (const group of await secretsByKey(db, column)) {
      check.stored += group.rows;
      if (opensWith(keyring, group.sample)) continue;
      check.undecryptable += group.rows;
      const id = group.key_id ?? "v1";
      if (!check.unknownKeyIds.includes(id)) check.unknownKeyIds.push(id);
    }
  }
  return check;
}

/** "key 1a2b3c4d, a key without id (v1 form)": SecretsCheck.unknownKeyIds for people. */
export function describeKeys(keyIds: readonly string[]): string {
  return keyIds.map((id) => (id === "v1" ? "a key without id (v1 form)" : `key ${id}`)).join(", ");
}

/**
 * The start-up check. Throws StoredSecretsError (one line naming CAPY_ENCRYPTION_KEY and
 * CAPY_ENCRYPTION_KEYS_OLD) when secrets are stored and none opens; `warn`s (one line) when some
 * do not, or when the metadata database cannot be read now (the process starts and serves
 * without it, as it does through an outage). An empty database passes.
 */
export async function assertStoredSecretsOpen(db: Db, keyring: Keyring | undefined, warn: (message: string) => void): Promise<void> {
  let check: SecretsCheck;
  try {
    check = await checkStoredSecrets(db, keyring);
  } catch (error) {
    warn(`could not check the stored secrets against the keyring: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    return;
  }
  if (check.undecryptable === 0) return;
  const sealedUnder = `sealed under ${describeKeys(check.unknownKeyIds)}`;
  if (keyring === undefined) {
    throw new StoredSecretsError(
      `refusing to start: CAPY_ENCRYPTION_KEY is not set, but the metadata database holds ${check.stored} stored secrets (${sealedUnder})`,
    );
  }
  const keys = `CAPY_ENCRYPTION_KEY (key ${keyring.currentKeyId}) or CAPY_ENCRYPTION_KEYS_OLD (${keyring.keyIds.slice(1).join(", ") || "empty"})`;
  if (check.undecryptable === check.stored) {
    throw new StoredSecretsError(
      `refusing to start: none of the ${check.stored} stored secrets in the metadata database (${sealedUnder}) decrypts with ${keys}; set CAPY_ENCRYPTION_KEY to the key that sealed them, or add that key to CAPY_ENCRYPTION_KEYS_OLD`,
    );
  }
  warn(`${check.undecryptable} of ${check.stored} stored secrets (${sealedUnder}) do not decrypt with ${keys}; jobs that need them will fail`);
}
