// A resource list as every page shows it: the API's error, skeleton rows while loading, an empty
// state when there is nothing, otherwise a table with a header row.
import type { ReactNode } from "react";
import { ErrorBanner, LoadingRows } from "./components.js";

export interface Column {
  label: string;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
  /** Named for screen readers only (e.g. the actions column). */
  hidden?: boolean;
}

export function ResourceTable<T>({
  rows,
  error,
  columns,
  loadingLabel,
  empty,
  children,
}: {
  /** undefined while loading. */
  rows: readonly T[] | undefined;
  error: unknown;
  columns: ReadonlyArray<string | Column>;
  loadingLabel: string;
  empty: ReactNode;
  children: (row: T) => ReactNode;
}) {
  const heads = columns.map((column) => (typeof column === "string" ? { label: column } : column));
  return (
    <>
      <ErrorBanner error={error} />
      {rows && rows.length === 0 ? (
        empty
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                {heads.map((head) => (
                  <th key={head.label} scope="col" className={head.numeric ? "num" : undefined}>
                    {head.hidden ? <span className="visually-hidden">{head.label}</span> : head.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {!rows && !error && <LoadingRows columns={heads.length} label={loadingLabel} />}
              {rows?.map(children)}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
