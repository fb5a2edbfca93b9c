// Raw queries on hot read paths (`SELECT *` through Prisma's $queryRaw, which skips the per-call
// query-plan compilation of findMany) answer with the table's snake_case column names; these
// are the same rows under the models' camelCase field names, values untouched (Prisma's raw
// results already carry Date, bigint and arrays). Every model maps columns that way.

/** Column name to field name, computed once per column. */
const fieldNames = new Map<string, string>();

function fieldName(column: string): string {
  let name = fieldNames.get(column);
  if (name === undefined) {
    name = column.replace(/_([a-z0-9])/g, (_match, next: string) => next.toUpperCase());
    fieldNames.set(column, name);
  }
  return name;
}

/** `rows` of `SELECT * FROM <model's table>` as that model's rows (T: the Prisma model type). */
export function asModelRows<T>(rows: readonly Record<string, unknown>[]): T[] {
  return rows.map((row) => {
    const model: Record<string, unknown> = {};
    for (const column in row) model[fieldName(column)] = row[column];
    return model as T;
  });
}
