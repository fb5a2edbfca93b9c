// `admin rotate-encryption-key`: re-seals every stored secret (every column of SECRET_COLUMNS)
// under the keyring's current key. Row by row, each write a compare-and-set on the value it
// read, so it is idempotent, may run twice at once, and is safe while the API and workers
// serve (they open both the old and the new value, as both keys are in their keyring).
import type { Db } from "../client.js";
import { readSecret, readSecretPage, replaceSecret, SECRET_COLUMNS, type SecretColumn, secretColumnName } from "./columns.js";
import { type Keyring, KeyringError } from "./keyring.js";

/** Rows read per query. */
const PAGE_SIZE = 200;
/** A row changed under us this many times in a row is counted failed (a rerun retries it). */
const MAX_RACES = 3;

export interface ColumnRotation {
  resealed: number;
  already_current: number;
  /** Rows no key of the keyring opens (ids listed, never values). */
  failed: number;
  failed_ids: string[];
}

export interface RotationReport {
  /** Id of the current key, which every re-sealed value now names. */
  key_id: string;
  resealed: number;
  already_current: number;
  failed: number;
  /** Per "table.column". Rows deleted or emptied while the rotation ran are not counted. */
  columns: Record<string, ColumnRotation>;
}

type RowOutcome = "resealed" | "already_current" | "failed" | "gone";

export async function rotateSecrets(db: Db, keyring: Keyring, columns: readonly SecretColumn[] = SECRET_COLUMNS): Promise<RotationReport> {
  const report: RotationReport = { key_id: keyring.currentKeyId, resealed: 0, already_current: 0, failed: 0, columns: {} };
  for (const column of columns) {
    const counts: ColumnRotation = { resealed: 0, already_current: 0, failed: 0, failed_ids: [] };
    for (let afterId: string | null = null; ; ) {
      const page = await readSecretPage(db, column, afterId, PAGE_SIZE);
      for (const row of page) {
        const outcome = await resealRow(db, keyring, column, row.id, row.value);
        if (outcome === "gone") continue;
        counts[outcome] += 1;
        if (outcome === "failed") counts.failed_ids.push(row.id);
      }
      if (page.length < PAGE_SIZE) break;
      afterId = page[page.length - 1]!.id;
    }
    report.columns[secretColumnName(column)] = counts;
    report.resealed += counts.resealed;
    report.already_current += counts.already_current;
    report.failed += counts.failed;
  }
  return report;
}

async function resealRow(db: Db, keyring: Keyring, column: SecretColumn, rowId: string, stored: string): Promise<RowOutcome> {
  let value: string | null = stored;
  for (let race = 0; race < MAX_RACES; race++) {
    if (value === null) return "gone";
    if (!keyring.needsReseal(value)) return "already_current";
    let next: string;
    try {
      next = keyring.seal(keyring.open(value));
    } catch (error) {
      if (error instanceof KeyringError) return "failed";
      throw error;
    }
    if (await replaceSecret(db, column, rowId, value, next)) return "resealed";
    // Someone wrote the row since we read it (a new credential, another rotation): look again.
    value = await readSecret(db, column, rowId);
  }
  return "failed";
}
