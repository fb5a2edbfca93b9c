// What a database holds, as a verification compares it: its user-visible objects by name and the
// exact row count of every table. Collected once from the source inside the dump's own snapshot
// (stored on the backup row as `source_inventory`) and once from the restored copy; any
// difference means the artifact does not restore to what was dumped.
import type pg from "pg";
import { z } from "zod";

export const INVENTORY_VERSION = 1;

export const Inventory = z.object({
  version: z.literal(INVENTORY_VERSION),
  schemas: z.array(z.string()),
  /** Ordinary and partitioned tables, `schema.table` (identifiers quoted where needed). */
  tables: z.array(z.string()),
  indexes: z.array(z.string()),
  sequences: z.array(z.string()),
  views: z.array(z.string()),
  materializedViews: z.array(z.string()),
  /** `oid::regprocedure::text` with search_path = pg_catalog: schema-qualified signatures. */
  functions: z.array(z.string()),
  extensions: z.array(z.string()),
  largeObjects: z.number().int().nonnegative(),
  /** Exact rows of every leaf table (partitions included) and populated materialized view. */
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
});
export type Inventory = z.infer<typeof Inventory>;

/** Schemas that belong to the system, never to a tenant's data. */
const USER_NAMESPACE = `
  n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Objects an extension created belong to the extension (CREATE EXTENSION recreates them). */
const notExtensionMember = (catalog: string, oid: string) => `
  NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
               WHERE d.classid = '${catalog}'::pg_catalog.regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

const RELATIONS_SQL = `
  SELECT c.relkind::text AS kind,
         pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
         c.relispopulated AS populated
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
   WHERE c.relkind IN ('r', 'p', 'i', 'I', 'S', 'v', 'm')
     AND ${USER_NAMESPACE}
     AND ${notExtensionMember("pg_class", "c.oid")}
     AND (i.indrelid IS NULL OR ${notExtensionMember("pg_class", "i.indrelid")})`;

/**
 * Collects the inventory over `client`, which the caller has placed in the transaction whose view
 * counts (for the source: the REPEATABLE READ transaction that exported the dump's snapshot).
 * Sets search_path for the rest of that transaction only.
 */
export async function collectInventory(client: pg.ClientBase): Promise<Inventory> {
  await client.query("SET LOCAL search_path = pg_catalog");
  const names = async (sql: string) => (await client.query<{ name: string }>(sql)).rows.map((row) => row.name).sort();

  const schemas = await names(`
    SELECT pg_catalog.quote_ident(n.nspname) AS name FROM pg_catalog.pg_namespace n
     WHERE ${USER_NAMESPACE} AND ${notExtensionMember("pg_namespace", "n.oid")}`);
  const functions = await names(`
    SELECT p.oid::pg_catalog.regprocedure::text AS name
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE ${USER_NAMESPACE} AND ${notExtensionMember("pg_proc", "p.oid")}`);
  const extensions = await names("SELECT pg_catalog.quote_ident(extname) AS name FROM pg_catalog.pg_extension");
  const largeObjects = Number((await client.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_catalog.pg_largeobject_metadata")).rows[0]!.n);

  const relations = (await client.query<{ kind: string; name: string; populated: boolean }>(RELATIONS_SQL)).rows;
  const of = (...kinds: string[]) =>
    relations
      .filter((r) => kinds.includes(r.kind))
      .map((r) => r.name)
      .sort();
  const rowCounts: Record<string, number> = {};
  // Sequentially on this one connection: the snapshot is the transaction's, and the dump runs
  // beside it on its own connection.
  for (const relation of relations.filter((r) => r.kind === "r" || (r.kind === "m" && r.populated)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${relation.name}`);
    rowCounts[relation.name] = Number(rows[0]!.n);
  }

  return {
    version: INVENTORY_VERSION,
    schemas,
    tables: of("r", "p"),
    indexes: of("i", "I"),
    sequences: of("S"),
    views: of("v"),
    materializedViews: of("m"),
    functions,
    extensions,
    largeObjects,
    rowCounts,
  };
}

const KINDS: ReadonlyArray<[keyof Inventory, string]> = [
  ["schemas", "schema"],
  ["extensions", "extension"],
  ["tables", "table"],
  ["indexes", "index"],
  ["sequences", "sequence"],
  ["views", "view"],
  ["materializedViews", "materialized view"],
  ["functions", "function"],
];

/**
 * Every way `restored` differs from `source`, one human-readable line each, e.g.
 * `index public.x missing in restore` or `public.orders: 10000 rows in source, 9999 restored`.
 * Empty when they match.
 */
export function compareInventories(source: Inventory, restored: Inventory): string[] {
  const differences: string[] = [];
  for (const [field, label] of KINDS) {
    const expected = new Set(source[field] as string[]);
    const actual = new Set(restored[field] as string[]);
    for (const name of expected) if (!actual.has(name)) differences.push(`${label} ${name} missing in restore`);
    for (const name of actual) if (!expected.has(name)) differences.push(`${label} ${name} in restore but not in source`);
  }
  for (const [name, rows] of Object.entries(source.rowCounts)) {
    const got = restored.rowCounts[name];
    // A missing relation is reported above; a matview restored unpopulated has no count.
    if (got === undefined) {
      if (restored.tables.includes(name) || restored.materializedViews.includes(name)) differences.push(`${name}: ${rows} rows in source, none restored`);
      continue;
    }
    if (got !== rows) differences.push(`${name}: ${rows} rows in source, ${got} restored`);
  }
  for (const [name, rows] of Object.entries(restored.rowCounts)) {
    if (!(name in source.rowCounts) && (source.tables.includes(name) || source.materializedViews.includes(name))) {
      differences.push(`${name}: no rows counted in source, ${rows} restored`);
    }
  }
  if (source.largeObjects !== restored.largeObjects) {
    differences.push(`large objects: ${source.largeObjects} in source, ${restored.largeObjects} restored`);
  }
  return differences;
}

/** Most differences spelled out in verification_error; the rest are counted. */
const MAX_LISTED_DIFFERENCES = 20;

export function describeDifferences(differences: readonly string[]): string {
  const listed = differences.slice(0, MAX_LISTED_DIFFERENCES).join("; ");
  const more = differences.length - MAX_LISTED_DIFFERENCES;
  return `restored copy differs from the source: ${listed}${more > 0 ? `; and ${more} more` : ""}`;
}
