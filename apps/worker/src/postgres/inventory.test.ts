// The comparison that decides whether a restored copy is the source: one precise line per
// difference, nothing when they match.
import { describe, expect, it } from "vitest";
import { compareInventories, describeDifferences, INVENTORY_VERSION, Inventory } from "./inventory.js";

function inventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    version: INVENTORY_VERSION,
    schemas: ["public", '"Sales"'],
    tables: ["public.orders", '"Sales"."Kunden"'],
    indexes: ["public.orders_pkey", "public.x"],
    sequences: ["public.orders_id_seq"],
    views: ["public.recent_orders"],
    materializedViews: ["public.order_totals"],
    functions: ["public.total(integer)"],
    extensions: ["pgcrypto", "plpgsql"],
    largeObjects: 2,
    rowCounts: { "public.orders": 10_000, '"Sales"."Kunden"': 3, "public.order_totals": 12 },
    ...overrides,
  };
}

describe("compareInventories", () => {
  it("finds nothing to report between identical inventories", () => {
    expect(compareInventories(inventory(), inventory())).toEqual([]);
  });

  it("names every object missing in the restore, and every extra one", () => {
    const restored = inventory({
      schemas: ["public"],
      tables: ["public.orders"],
      indexes: ["public.orders_pkey"],
      sequences: [],
      views: ["public.recent_orders", "public.surprise"],
      materializedViews: [],
      functions: ["public.total(bigint)"],
      extensions: ["plpgsql"],
      rowCounts: { "public.orders": 10_000 },
    });
    expect(compareInventories(inventory(), restored)).toEqual([
      'schema "Sales" missing in restore',
      "extension pgcrypto missing in restore",
      'table "Sales"."Kunden" missing in restore',
      "index public.x missing in restore",
      "sequence public.orders_id_seq missing in restore",
      "view public.surprise in restore but not in source",
      "materialized view public.order_totals missing in restore",
      "function public.total(integer) missing in restore",
      "function public.total(bigint) in restore but not in source",
    ]);
  });

  it("reports row counts and large objects that differ", () => {
    const restored = inventory({ largeObjects: 1, rowCounts: { "public.orders": 9_999, '"Sales"."Kunden"': 3, "public.order_totals": 12 } });
    expect(compareInventories(inventory(), restored)).toEqual(["public.orders: 10000 rows in source, 9999 restored", "large objects: 2 in source, 1 restored"]);
  });

  it("reports a materialized view restored without its rows", () => {
    const restored = inventory({ rowCounts: { "public.orders": 10_000, '"Sales"."Kunden"': 3 } });
    expect(compareInventories(inventory(), restored)).toEqual(["public.order_totals: 12 rows in source, none restored"]);
  });
});

describe("describeDifferences", () => {
  it("lists differences in one line", () => {
    expect(describeDifferences(["index public.x missing in restore", "public.orders: 10000 rows in source, 9999 restored"])).toBe(
      "restored copy differs from the source: index public.x missing in restore; public.orders: 10000 rows in source, 9999 restored",
    );
  });

  it("spells out twenty and counts the rest", () => {
    const many = Array.from({ length: 23 }, (_, i) => `table public.t${i} missing in restore`);
    const text = describeDifferences(many);
    expect(text).toContain("table public.t19 missing in restore; and 3 more");
    expect(text).not.toContain("public.t20");
  });
});

describe("Inventory", () => {
  it("refuses what is not an inventory (a backup taken before inventories existed)", () => {
    expect(Inventory.safeParse(null).success).toBe(false);
    expect(Inventory.safeParse(inventory()).success).toBe(true);
  });
});
