// Secrets never reach a job row or a log line: child output and error text pass through here
// before they are stored. Known secrets are removed literally; anything shaped like a password
// in a connection string or SQL is removed by pattern, in case a secret we were not told about shows up.

export const REDACTED = "[REDACTED]";

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // key=value connection settings: password=secret, password='with spaces', PGPASSWORD=secret
  [/(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'&;,]+)/gi, `$1${REDACTED}`],
  // SQL string literals after PASSWORD, as pg_restore quotes the statement it failed on:
  // CREATE ROLE … PASSWORD 'secret', CREATE USER MAPPING … OPTIONS (password 'secret')
  [/(password\s+)'(?:[^']|'')*'/gi, `$1${REDACTED}`],
  // credentials in URIs: postgresql://user:secret@host, redis://:secret@host; up to the last @
  // of the address, so a password holding an unencoded @ goes whole
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):\S*@/gi, `$1:${REDACTED}@`],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `text` with every given secret (and its URL-encoded form) and password-shaped value removed. */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | null | undefined> = []): string {
  const literals = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    literals.add(secret);
    literals.add(encodeURIComponent(secret));
  }
  let result = text;
  // Longest first, so a secret containing another one is removed whole.
  for (const literal of [...literals].sort((a, b) => b.length - a.length)) {
    result = result.replace(new RegExp(escapeRegExp(literal), "g"), REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return result;
}
