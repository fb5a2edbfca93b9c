// Restoring only some tables: from `pg_restore -l` (the archive's table of contents), the list
// file (`pg_restore -L`) of the named tables and what they need: their schema, definition, data,
// column defaults with the sequences named after the table, and constraints other than foreign
// keys (whose referenced tables may not be restored). Plain indexes are not linked to their table
// in the listing and are left out.
import { ConfigurationError } from "../failures/errors.js";

/** Entry kinds, longest first so "TABLE DATA" is not read as "TABLE". */
const KINDS = [
  "SEQUENCE OWNED BY",
  "FK CONSTRAINT",
  "CHECK CONSTRAINT",
  "SEQUENCE SET",
  "ROW SECURITY",
  "TABLE DATA",
  "CONSTRAINT",
  "SEQUENCE",
  "DEFAULT",
  "TRIGGER",
  "POLICY",
  "SCHEMA",
  "TABLE",
];
const ATTACHED = new Set(["CONSTRAINT", "CHECK CONSTRAINT", "DEFAULT", "TRIGGER", "POLICY", "ROW SECURITY"]);
const SEQUENCES = new Set(["SEQUENCE", "SEQUENCE OWNED BY", "SEQUENCE SET"]);

interface Entry {
  line: string;
  kind: string;
  namespace: string;
  tag: string;
}

/** `3359; 0 16904 TABLE DATA public pgbench_branches postgres` → kind, namespace, tag. */
export function parseTocLine(line: string): Entry | null {
  const match = /^\d+; \d+ \d+ (.+)$/.exec(line.trim());
  if (!match) return null;
  const rest = match[1]!;
  const kind = KINDS.find((k) => rest.startsWith(`${k} `));
  if (!kind) return null;
  const words = rest.slice(kind.length + 1).split(" ");
  if (words.length < 3) return null;
  // namespace, tag (may hold spaces: "table constraint"), owner.
  return { line, kind, namespace: words[0]!, tag: words.slice(1, -1).join(" ") };
}

function wanted(entry: Entry, schema: string, table: string): boolean {
  if (entry.kind === "SCHEMA") return entry.tag === schema;
  if (entry.namespace !== schema) return false;
  if (entry.kind === "TABLE" || entry.kind === "TABLE DATA") return entry.tag === table;
  if (ATTACHED.has(entry.kind)) return entry.tag.startsWith(`${table} `);
  if (SEQUENCES.has(entry.kind)) return entry.tag.startsWith(`${table}_`) && entry.tag.endsWith("_seq");
  return false;
}

/** The `-L` list for `tables` (`schema.table`); fails when one of them is not in the archive. */
export function selectTables(toc: string, tables: readonly string[]): string {
  const entries = toc
    .split("\n")
    .map(parseTocLine)
    .filter((entry): entry is Entry => entry !== null);
  const targets = tables.map((qualified) => {
    const [schema, table] = qualified.split(".") as [string, string];
    return { qualified, schema, table };
  });
  const missing = targets.filter((t) => !entries.some((e) => e.kind === "TABLE" && e.namespace === t.schema && e.tag === t.table));
  if (missing.length > 0) throw new ConfigurationError(`not in the backup: ${missing.map((t) => t.qualified).join(", ")}`);
  // The public schema exists in every new database; its entry only comments on it.
  const keep = entries.filter((e) => targets.some((t) => wanted(e, t.schema, t.table)) && !(e.kind === "SCHEMA" && e.tag === "public"));
  return `${keep.map((e) => e.line).join("\n")}\n`;
}
