#!/usr/bin/env node
import { Scope } from "@capy/contracts";
// Operator CLI (`pnpm --silent admin …`). Scripts rely on its exact flags and JSON output.
import { Command, InvalidArgumentError } from "commander";
import { createDb } from "../client.js";
import { loadDbEnv } from "../env.js";
import { rotateSecrets } from "../secrets/rotate.js";
import { createApiKey, createProject, registerCluster, revokeApiKey } from "../tenants.js";

const env = loadDbEnv();

function parseScopes(value: string): Scope[] {
  return value.split(",").map((raw) => {
    const parsed = Scope.safeParse(raw.trim());
    if (!parsed.success) throw new InvalidArgumentError(`unknown scope "${raw.trim()}"`);
    return parsed.data;
  });
}

async function withDb<T>(work: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb(env.DATABASE_URL, { maxConnections: 2 });
  try {
    return await work(db);
  } finally {
    await db.$disconnect();
  }
}

/** The keyring of CAPY_ENCRYPTION_KEY / CAPY_ENCRYPTION_KEYS_OLD (or the local development key). */
function keyring() {
  if (!env.keyring) throw new Error("CAPY_ENCRYPTION_KEY is not set (run `pnpm dev` once to create a local key)");
  return env.keyring;
}

/**
 * A connection URL from its flag, else from its variable. The variable is the way for a URL with a
 * password: a command line is readable by every user of the machine (ps, /proc/<pid>/cmdline) and
 * kept in shell history, so a password given there gets a warning.
 */
function connectionUrl(flag: string, given: string | undefined, variable: "CAPY_ADMIN_URL" | "CAPY_PROJECT_DATABASE_URL"): string {
  const url = given ?? env[variable];
  if (url === undefined) throw new Error(`give the URL in ${variable} (or ${flag} <url>)`);
  if (given !== undefined && URL.canParse(given) && new URL(given).password !== "") {
    console.error(`warning: ${flag} holds a password, which other users of this machine can read and your shell history keeps; set ${variable} instead`);
  }
  return url;
}

function print(json: boolean, value: Record<string, unknown>, human: string): void {
  console.log(json ? JSON.stringify(value) : human);
}

const program = new Command("admin").description("Capy Backups operator commands").showHelpAfterError();

program
  .command("register-cluster")
  .description("register (or update) a cluster's operator login, the only one that creates databases and roles on it")
  .option(
    "--admin-url <url>",
    "postgres://admin@host:port/postgres of a role that may create databases and roles (default CAPY_ADMIN_URL, the place for one with a password)",
  )
  .option("--name <name>", "a name for the cluster (default host:port)")
  .option("--json", "print JSON")
  .action(async (opts: { adminUrl?: string; name?: string; json?: boolean }) => {
    const adminUrl = connectionUrl("--admin-url", opts.adminUrl, "CAPY_ADMIN_URL");
    const { cluster_id } = await withDb((db) => registerCluster(db, { adminUrl, name: opts.name, keyring: keyring() }));
    print(Boolean(opts.json), { cluster_id }, `cluster ${cluster_id}`);
  });

program
  .command("create-project")
  .description("create a project (and its organization if new) with a project-scoped API key")
  .requiredOption("--org <name>", "organization name")
  .requiredOption("--name <name>", "project name")
  .option(
    "--database-url <url>",
    "postgres://user@host:port/database of the project database, its cluster registered first (default CAPY_PROJECT_DATABASE_URL, the place for one with a password)",
  )
  .option("--json", "print JSON")
  .action(async (opts: { org: string; name: string; databaseUrl?: string; json?: boolean }) => {
    const databaseUrl = connectionUrl("--database-url", opts.databaseUrl, "CAPY_PROJECT_DATABASE_URL");
    const created = await withDb((db) => createProject(db, { organizationName: opts.org, projectName: opts.name, databaseUrl, keyring: keyring() }));
    const { organization_id, project_id, api_key } = created;
    print(
      Boolean(opts.json),
      { organization_id, project_id, api_key },
      `organization ${organization_id}\nproject      ${project_id}\napi key      ${api_key}  (shown once)`,
    );
  });

program
  .command("create-api-key")
  .description("create an API key for an organization, optionally limited to one project")
  .requiredOption("--org <organization_id>", "organization id")
  .option("--project <project_id>", "limit the key to this project")
  .option("--scopes <a,b>", "comma-separated scopes", parseScopes)
  .option("--name <name>", "a name for the key", "admin")
  .option("--json", "print JSON")
  .action(async (opts: { org: string; project?: string; scopes?: Scope[]; name: string; json?: boolean }) => {
    const key = await withDb((db) => createApiKey(db, { organizationId: opts.org, projectId: opts.project ?? null, scopes: opts.scopes, name: opts.name }));
    print(Boolean(opts.json), { id: key.id, api_key: key.plaintext }, `${key.id}  ${key.plaintext}  (shown once)`);
  });

program
  .command("revoke-api-key")
  .description("revoke an API key at once")
  .argument("<key_id>", "key id (key_…)")
  .option("--json", "print JSON")
  .action(async (keyId: string, opts: { json?: boolean }) => {
    const revoked = await withDb((db) => revokeApiKey(db, keyId));
    if (!revoked) throw new Error(`no active key ${keyId}`);
    print(Boolean(opts.json), { id: keyId, revoked: true }, `revoked ${keyId}`);
  });

program
  .command("rotate-encryption-key")
  .description("re-seal every stored secret under CAPY_ENCRYPTION_KEY (older keys from CAPY_ENCRYPTION_KEYS_OLD); idempotent, safe while serving")
  .option("--json", "print JSON")
  .action(async (opts: { json?: boolean }) => {
    const report = await withDb((db) => rotateSecrets(db, keyring()));
    const lines = Object.entries(report.columns).map(
      ([column, c]) =>
        `${column}: ${c.resealed} re-sealed, ${c.already_current} already current, ${c.failed} failed${c.failed ? ` (${c.failed_ids.join(", ")})` : ""}`,
    );
    print(Boolean(opts.json), { ...report }, [`current key ${report.key_id}`, ...lines].join("\n"));
    // Not every secret is under the current key: the old keys must stay until a rerun succeeds.
    if (report.failed > 0) {
      console.error(
        "some secrets open with no key of the keyring: keep CAPY_ENCRYPTION_KEYS_OLD, add the key that sealed them (or re-enter them), and run this again",
      );
      process.exitCode = 1;
    }
  });

try {
  await program.parseAsync();
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
