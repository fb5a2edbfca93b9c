// THE registry of secrets at rest. Every column listed here holds values sealed by the Keyring
// (keyring.ts); `admin rotate-encryption-key` re-seals exactly these, and the API and workers
// check them at start-up. Adding a secret column is one line here (its table, its text primary
// key and the column), nothing else: rotation and the start-up check pick it up.
import type { Db } from "../client.js";
import { Prisma } from "../generated/prisma/client.js";

export interface SecretColumn {
  table: string;
  /** The table's primary key (text). */
  id: string;
  /** Text column holding sealed values (nullable or not: null rows hold no secret). */
  column: string;
}

export const SECRET_COLUMNS: readonly SecretColumn[] = [
  { table: "clusters", id: "id", column: "admin_password_encrypted" },
  { table: "projects", id: "id", column: "db_password_encrypted" },
  { table: "preview_databases", id: "id", column: "password_encrypted" },
  { table: "webhooks", id: "id", column: "secret_encrypted" },
  { table: "webhooks", id: "id", column: "previous_secret_encrypted" },
  { table: "project_encryption_keys", id: "id", column: "private_key_encrypted" },
];

/** "table.column", as reports name a column. */
export function secretColumnName(column: SecretColumn): string {
  return `${column.table}.${column.column}`;
}

export interface StoredSecret {
  id: string;
  value: string;
}

// Identifiers come from the registry above, never from input; quoted all the same.
function ident(name: string): Prisma.Sql {
  return Prisma.raw(`"${name.replaceAll('"', '""')}"`);
}

/** Up to `limit` stored (non-null) secrets of `column` whose id sorts after `afterId`, in id order. */
export async function readSecretPage(db: Db, column: SecretColumn, afterId: string | null, limit: number): Promise<StoredSecret[]> {
  const [table, id, value] = [ident(column.table), ident(column.id), ident(column.column)];
  const after = afterId === null ? Prisma.empty : Prisma.sql`AND ${id} COLLATE "C" > ${afterId}`;
  return db.$queryRaw<StoredSecret[]>`
    SELECT ${id} AS id, ${value} AS value FROM ${table}
    WHERE ${value} IS NOT NULL ${after}
    ORDER BY ${id} COLLATE "C" LIMIT ${limit}`;
}

/** The row's current value; null when the row is gone or holds no secret. */
export async function readSecret(db: Db, column: SecretColumn, rowId: string): Promise<string | null> {
  const rows = await db.$queryRaw<Array<{ value: string | null }>>`
    SELECT ${ident(column.column)} AS value FROM ${ident(column.table)} WHERE ${ident(column.id)} = ${rowId}`;
  return rows[0]?.value ?? null;
}

/**
 * Compare-and-set: writes `next` only while the row still holds `previous` (so a concurrent
 * writer, e.g. `admin create-project` or a second rotation, is never overwritten). True when
 * this call wrote it.
 */
export async function replaceSecret(db: Db, column: SecretColumn, rowId: string, previous: string, next: string): Promise<boolean> {
  const value = ident(column.column);
  const count = await db.$executeRaw`
    UPDATE ${ident(column.table)} SET ${value} = ${next} WHERE ${ident(column.id)} = ${rowId} AND ${value} = ${previous}`;
  return count === 1;
}

export interface KeyGroup {
  /** Id of the key that sealed these values; null for the v1 form, which names none. */
  key_id: string | null;
  rows: number;
  /** One of them, to try opening. */
  sample: string;
}

/** The column's stored secrets grouped by the key id they name, one sample each. */
export async function secretsByKey(db: Db, column: SecretColumn): Promise<KeyGroup[]> {
  const value = ident(column.column);
  return db.$queryRaw<KeyGroup[]>`
    SELECT CASE WHEN ${value} LIKE 'v2:%' THEN split_part(${value}, ':', 2) END AS key_id,
           count(*)::int AS rows, min(${value}) AS sample
    FROM ${ident(column.table)} WHERE ${value} IS NOT NULL
    GROUP BY 1 ORDER BY 1 NULLS FIRST`;
}
