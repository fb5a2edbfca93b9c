// The SQL side of restores, always as an operator login (a cluster's registered admin, or the
// PREVIEW_DATABASE_URL server's): a preview's login role and database, the staging database a
// project restore is built in, the rename swap that puts it in place, and drops. Every statement
// is idempotent, so a retried or taken-over attempt can run it again.

import { quoteIdent } from "@capy/db";
import type pg from "pg";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { connectTo } from "../postgres/session.js";
import { DROP_TIMEOUT_MS } from "../verify/verifier.js";
import { scramSha256Verifier } from "./scram.js";

export async function withAdmin<T>(admin: DumpTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectTo(admin, admin.database, "capy-backups-restore");
  try {
    // DROP DATABASE waits for every backend to absorb a barrier: bounded like the verifier's.
    await client.query(`SET statement_timeout = ${DROP_TIMEOUT_MS}`);
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface PreviewLogin {
  /** The preview's database and its role share this name. */
  name: string;
  password: string;
}

/**
 * (Re)creates the preview's login role (its password set from a SCRAM verifier, so no plaintext
 * reaches the server) and a fresh, empty database it owns, which no one else may connect to.
 */
export async function createPreviewDatabase(admin: DumpTarget, login: PreviewLogin, template = "template0"): Promise<void> {
  const role = quoteIdent(login.name);
  const verifier = scramSha256Verifier(login.password);
  await withAdmin(admin, async (client) => {
    const exists = await client.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [login.name]);
    const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${client.escapeLiteral(verifier)}`;
    await client.query(`${exists.rowCount ? "ALTER" : "CREATE"} ROLE ${role} ${attributes}`);
    // A non-superuser operator (CREATEROLE) must be a member to create a database owned by the role.
    const { rows } = await client.query<{ rolsuper: boolean }>("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user");
    if (!rows[0]?.rolsuper) await client.query(`GRANT ${role} TO CURRENT_USER`);
    await client.query(`DROP DATABASE IF EXISTS ${role} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${role} OWNER ${role} TEMPLATE ${quoteIdent(template)}`);
    await client.query(`REVOKE ALL ON DATABASE ${role} FROM PUBLIC`);
  });
}

/** Drops a preview's database and its role; both may already be gone. */
export async function dropPreviewDatabase(admin: DumpTarget, name: string): Promise<void> {
  await withAdmin(admin, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
  });
}

/** Staging database of a project restore, and the name the replaced database gets in the swap. */
export function stagingNames(jobId: string): { staging: string; replaced: string } {
  const suffix = jobId.replace(/^job_/, "");
  return { staging: `capy_restore_${suffix}`, replaced: `capy_replaced_${suffix}` };
}

/** The job id a staging or replaced database was named after, or null. */
export function jobOfStagingDatabase(name: string): string | null {
  const match = /^capy_(?:restore|replaced)_([0-9a-z]{26})$/.exec(name);
  return match ? `job_${match[1]}` : null;
}

/**
 * A fresh staging database shaped like `original`: same owner, encoding and locale, and the same
 * database-level privileges (pg_dump archives do not carry those without --create).
 */
export async function createStagingDatabase(admin: DumpTarget, original: string, staging: string): Promise<void> {
  await withAdmin(admin, async (client) => {
    const { rows } = await client.query<{ owner: string; encoding: string; collate: string; ctype: string }>(
      `SELECT pg_catalog.pg_get_userbyid(datdba) AS owner, pg_catalog.pg_encoding_to_char(encoding) AS encoding,
              datcollate AS collate, datctype AS ctype
         FROM pg_catalog.pg_database WHERE datname = $1`,
      [original],
    );
    const shape = rows[0];
    if (!shape) throw new Error(`database ${original} does not exist`);
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(staging)} WITH (FORCE)`);
    await client.query(
      `CREATE DATABASE ${quoteIdent(staging)} OWNER ${quoteIdent(shape.owner)} TEMPLATE template0 ENCODING ${client.escapeLiteral(shape.encoding)} ` +
        `LC_COLLATE ${client.escapeLiteral(shape.collate)} LC_CTYPE ${client.escapeLiteral(shape.ctype)}`,
    );
    await copyDatabasePrivileges(client, original, staging);
  });
}

async function copyDatabasePrivileges(client: pg.Client, from: string, to: string): Promise<void> {
  const { rows } = await client.query<{ grantee: string | null; privilege: string; grantable: boolean; is_null: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END AS grantee,
            a.privilege_type AS privilege, a.is_grantable AS grantable, d.datacl IS NULL AS is_null
       FROM pg_catalog.pg_database d
       LEFT JOIN LATERAL pg_catalog.aclexplode(d.datacl) a ON true
      WHERE d.datname = $1`,
    [from],
  );
  // A NULL acl is the default (PUBLIC may connect), which the new database has already.
  if (rows.length === 0 || rows[0]!.is_null) return;
  await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(to)} FROM PUBLIC`);
  for (const row of rows) {
    if (!row.privilege) continue;
    const grantee = row.grantee === null ? "PUBLIC" : quoteIdent(row.grantee);
    await client.query(`GRANT ${row.privilege} ON DATABASE ${quoteIdent(to)} TO ${grantee}${row.grantable ? " WITH GRANT OPTION" : ""}`);
  }
}

/**
 * Puts the restored staging database in the project's place: new connections to the project's
 * database are refused, its sessions ended, and both renames happen in one transaction (so the
 * project's name always names a whole database); the replaced one is then dropped.
 */
export async function swapInByRename(admin: DumpTarget, project: string, staging: string, replaced: string): Promise<void> {
  await withAdmin(admin, async (client) => {
    await client.query(`ALTER DATABASE ${quoteIdent(project)} ALLOW_CONNECTIONS false`);
    try {
      await client.query(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
        [project],
      );
      await client.query("BEGIN");
      await client.query(`ALTER DATABASE ${quoteIdent(project)} RENAME TO ${quoteIdent(replaced)}`);
      await client.query(`ALTER DATABASE ${quoteIdent(staging)} RENAME TO ${quoteIdent(project)}`);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      await client.query(`ALTER DATABASE ${quoteIdent(project)} ALLOW_CONNECTIONS true`).catch(() => {});
      throw error;
    }
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(replaced)} WITH (FORCE)`);
  });
}

/**
 * Undoes what a lost project-restore attempt may have left: its staging database, and the
 * project's database left refusing connections mid-swap (only possible before the renames).
 */
export async function cleanUpProjectRestore(admin: DumpTarget, project: string, jobId: string): Promise<void> {
  const { staging, replaced } = stagingNames(jobId);
  await withAdmin(admin, async (client) => {
    await client.query(`ALTER DATABASE ${quoteIdent(project)} ALLOW_CONNECTIONS true`).catch(() => {});
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(staging)} WITH (FORCE)`);
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(replaced)} WITH (FORCE)`);
  });
}
