// The demo tenant `pnpm dev` creates: a small source database with sample data on the local
// server, and an organization + project + project key pointing at it. Idempotent: re-running
// reuses the database, organization and project, and mints a fresh key (plaintext keys are
// never stored, so an old one cannot be shown again). The project's password is re-sealed under
// the current key each run, and the cluster's too when no key of the keyring opens it (another
// clone's key, a deleted .data/): the demo is disposable, so it heals rather than fails.
import pg from "pg";
import type { Db } from "./client.js";
import { parsePostgresUrl, quoteIdent, withDatabase } from "./postgres-url.js";
import type { Keyring } from "./secrets/keyring.js";
import { type CreatedProject, createProject, registerCluster } from "./tenants.js";

const DEMO_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  total_cents integer NOT NULL,
  items jsonb NOT NULL DEFAULT '[]',
  placed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email)
  SELECT 'Customer ' || g, 'customer' || g || '@example.com' FROM generate_series(1, 1000) g
  ON CONFLICT (email) DO NOTHING;
INSERT INTO orders (customer_id, total_cents, items)
  SELECT c.id, (random() * 100000)::int, jsonb_build_array(jsonb_build_object('sku', 'capy-' || c.id, 'qty', 1))
  FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders);
`;

export interface DemoSeedInput {
  /** URL of the demo source database; created with sample data when missing. */
  demoDatabaseUrl: string;
  keyring: Keyring;
}

export async function seedDemo(db: Db, input: DemoSeedInput): Promise<CreatedProject> {
  const { database } = parsePostgresUrl(input.demoDatabaseUrl);
  const admin = new pg.Client({ connectionString: withDatabase(input.demoDatabaseUrl, "postgres") });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
  } finally {
    await admin.end();
  }
  const demo = new pg.Client({ connectionString: input.demoDatabaseUrl });
  await demo.connect();
  try {
    await demo.query(DEMO_SCHEMA_SQL);
  } finally {
    await demo.end();
  }
  // The local server's login is its operator login too (a real deployment registers its own).
  await registerCluster(db, { adminUrl: withDatabase(input.demoDatabaseUrl, "postgres"), keyring: input.keyring });
  return createProject(db, {
    organizationName: "demo",
    projectName: "demo",
    databaseUrl: input.demoDatabaseUrl,
    keyring: input.keyring,
  });
}
