// What pg_dump and pg_restore share: how to name the server, role and database on the command
// line, and the whole environment a PostgreSQL client tool gets. The password is never in
// either: libpq reads it from the passfile, and --no-password makes the tool fail rather than
// prompt if that is wrong.
import { ConfigurationError } from "../failures/errors.js";

/** How long libpq may take to connect before the tool gives up (seconds). */
export const PG_CONNECT_TIMEOUT_SECONDS = 10;

/** `--no-password -h host -p port -U user -d database`, refusing a database name libpq would misread. */
export function connectionArgs(target: { host: string; port: number; user: string }, database: string): string[] {
  // libpq reads a dbname containing "=" or starting with a URI scheme as a whole connection
  // string, which could silently point the tool somewhere else.
  if (database.includes("=") || /^postgres(ql)?:\/\//i.test(database)) {
    throw new ConfigurationError(`database name "${database}" would be read as a connection string`);
  }
  return ["--no-password", "-h", target.host, "-p", String(target.port), "-U", target.user, "-d", database];
}

/** The tool's entire environment: nothing inherited from the worker (no keys, no PGPASSWORD). */
export function clientToolEnv(passfile: string, applicationName: string): Record<string, string> {
  return {
    PGPASSFILE: passfile,
    PGCONNECT_TIMEOUT: String(PG_CONNECT_TIMEOUT_SECONDS),
    PGAPPNAME: applicationName,
    // Untranslated client messages, which the failure classifier recognises.
    LC_ALL: "C",
  };
}
