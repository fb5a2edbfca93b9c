import { describe, expect, it } from "vitest";
import { parseTocLine, selectTables } from "./toc.js";

// As `pg_restore -l` prints them (pgbench plus a table with a serial column, in two schemas).
const TOC = `;
; Archive created at 2026-11-30 13:56:10 UTC
;
8; 2615 16390 SCHEMA - shop postgres
216; 1259 16901 TABLE public pgbench_accounts postgres
217; 1259 16904 TABLE public pgbench_branches postgres
218; 1259 16910 TABLE shop orders postgres
219; 1259 16909 SEQUENCE shop orders_id_seq postgres
3370; 0 0 SEQUENCE OWNED BY shop orders_id_seq postgres
3201; 2604 16911 DEFAULT shop orders id postgres
3358; 0 16901 TABLE DATA public pgbench_accounts postgres
3359; 0 16904 TABLE DATA public pgbench_branches postgres
3360; 0 16910 TABLE DATA shop orders postgres
3371; 0 0 SEQUENCE SET shop orders_id_seq postgres
3211; 2606 16916 CONSTRAINT public pgbench_accounts pgbench_accounts_pkey postgres
3213; 2606 16912 CONSTRAINT public pgbench_branches pgbench_branches_pkey postgres
3214; 2606 16918 FK CONSTRAINT shop orders orders_account_fkey postgres
3215; 1259 16920 INDEX shop orders_placed_idx postgres
`;

describe("selectTables", () => {
  it("parses entries whose kind has spaces", () => {
    expect(parseTocLine("3359; 0 16904 TABLE DATA public pgbench_branches postgres")).toMatchObject({
      kind: "TABLE DATA",
      namespace: "public",
      tag: "pgbench_branches",
    });
    expect(parseTocLine("; a comment")).toBeNull();
  });

  it("keeps a table's definition, data and primary key, and nothing of other tables", () => {
    const list = selectTables(TOC, ["public.pgbench_branches"]).trim().split("\n");
    expect(list).toEqual([
      "217; 1259 16904 TABLE public pgbench_branches postgres",
      "3359; 0 16904 TABLE DATA public pgbench_branches postgres",
      "3213; 2606 16912 CONSTRAINT public pgbench_branches pgbench_branches_pkey postgres",
    ]);
  });

  it("brings the schema, the serial's sequence and default along, but not foreign keys", () => {
    const list = selectTables(TOC, ["shop.orders"]);
    for (const id of ["8;", "218;", "219;", "3370;", "3201;", "3360;", "3371;"]) expect(list).toContain(`${id} `);
    expect(list).not.toContain("FK CONSTRAINT");
    expect(list).not.toContain("pgbench");
  });

  it("refuses tables the archive does not hold", () => {
    expect(() => selectTables(TOC, ["public.pgbench_branches", "public.nope"])).toThrow("not in the backup: public.nope");
  });
});
