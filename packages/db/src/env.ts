// Configuration of the db package's own command-line entry points (migrate, admin), and the
// keyring every process builds from CAPY_ENCRYPTION_KEY / CAPY_ENCRYPTION_KEYS_OLD.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { HEX_KEY } from "./secrets/crypto.js";
import { type Keyring, keyringFromSettings } from "./secrets/keyring.js";

const schema = z.object({
  DATABASE_URL: z.string().url().default("postgresql://postgres:postgres@127.0.0.1:5432/capy"),
  CAPY_ENCRYPTION_KEY: z.string().regex(HEX_KEY, "CAPY_ENCRYPTION_KEY must be 64 hex characters").optional(),
  CAPY_ENCRYPTION_KEYS_OLD: z.string().optional(),
  // `admin register-cluster` / `admin create-project`: the URLs with passwords, kept off argv.
  CAPY_ADMIN_URL: z.string().url().optional(),
  CAPY_PROJECT_DATABASE_URL: z.string().url().optional(),
});

export type DbEnv = z.infer<typeof schema> & { CAPY_ENCRYPTION_KEY: string | undefined; keyring: Keyring | undefined };

export function loadDbEnv(source: NodeJS.ProcessEnv = process.env): DbEnv {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(source).filter(([, value]) => value !== "")));
  if (!parsed.success) throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const current = parsed.data.CAPY_ENCRYPTION_KEY ?? readLocalEncryptionKey();
  try {
    return { ...parsed.data, CAPY_ENCRYPTION_KEY: current, keyring: keyringFromSettings(current, parsed.data.CAPY_ENCRYPTION_KEYS_OLD) };
  } catch (error) {
    throw new Error(`invalid configuration: ${(error as Error).message}`);
  }
}

/**
 * A process's keyring: CAPY_ENCRYPTION_KEY (or, when unset, the local development key file)
 * as the current key, CAPY_ENCRYPTION_KEYS_OLD (comma-separated) as older ones. Undefined when
 * there is no current key. Throws a message naming the variable at fault.
 */
export function loadKeyring(currentKey: string | undefined, oldKeys: string | undefined): Keyring | undefined {
  return keyringFromSettings(currentKey ?? readLocalEncryptionKey(), oldKeys);
}

/** Where `pnpm dev` keeps the key it generated on first run (relative to the working directory). */
export const LOCAL_ENCRYPTION_KEY_FILE = path.join(".data", "encryption.key");

/**
 * The local development key, when CAPY_ENCRYPTION_KEY is unset. Production sets the variable;
 * this only lets `pnpm dev`, `pnpm admin` and the processes it starts agree without ceremony.
 */
export function readLocalEncryptionKey(): string | undefined {
  const file = path.resolve(LOCAL_ENCRYPTION_KEY_FILE);
  if (!existsSync(file)) return undefined;
  const key = readFileSync(file, "utf8").trim();
  return HEX_KEY.test(key) ? key : undefined;
}
