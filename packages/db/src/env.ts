// Configuration of the db package's own command-line entry points (migrate, admin).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z.string().url().default("postgresql://postgres:postgres@127.0.0.1:5432/capy"),
  CAPY_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "CAPY_ENCRYPTION_KEY must be 64 hex characters")
    .optional(),
});

export type DbEnv = z.infer<typeof schema> & { CAPY_ENCRYPTION_KEY: string | undefined };

export function loadDbEnv(source: NodeJS.ProcessEnv = process.env): DbEnv {
  const parsed = schema.safeParse(source);
  if (!parsed.success) throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return { ...parsed.data, CAPY_ENCRYPTION_KEY: parsed.data.CAPY_ENCRYPTION_KEY ?? readLocalEncryptionKey() };
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
  return /^[0-9a-fA-F]{64}$/.test(key) ? key : undefined;
}
