// Connection settings as discrete fields. Passwords travel separately (passfile, encrypted
// column), never inside a URL that might be logged.
export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password: string | null;
  database: string;
}

export function parsePostgresUrl(url: string): PgConnection {
  const u = new URL(url);
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new Error("expected a postgres:// or postgresql:// URL");
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new Error("the database URL names no database");
  return {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || "postgres"),
    password: u.password ? decodeURIComponent(u.password) : null,
    database,
  };
}

/** The same server, another database (e.g. "postgres" for CREATE DATABASE). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Double-quotes an identifier for SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
