// The API's configuration: the only module that reads process.env. Every setting has a working
// local default so `pnpm start:api` runs against the local Postgres and Redis with no setup.
import { readLocalEncryptionKey } from "@capy/db";
import { s3ConfigFromEnv, type S3Config } from "@capy/storage";
import { z } from "zod";
import { describeIssues } from "./errors.js";

const schema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default("postgresql://postgres:postgres@127.0.0.1:5432/capy"),
  /** redis://host:port/db — the database index is honoured. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379/0"),
  /** Prefix of every BullMQ key, shared with the workers of the same deployment. */
  CAPY_REDIS_PREFIX: z.string().min(1).default("capy"),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  /** Root directory of the filesystem artifact storage. */
  STORAGE_DIR: z.string().min(1).default("./.data/storage"),
  /** AES-256 key (64 hex characters) for database credentials at rest. */
  CAPY_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters")
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
});

export interface Config {
  databaseUrl: string;
  redis: { url: string; prefix: string };
  port: number;
  host: string;
  storageDir: string;
  /** S3-compatible storage (S3_* variables); unset means the filesystem under storageDir. */
  s3: S3Config | undefined;
  /**
   * For database credentials at rest; no current endpoint decrypts any. Unset when neither
   * CAPY_ENCRYPTION_KEY nor the local development key file exists.
   */
  encryptionKey: string | undefined;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
  nodeEnv: z.infer<typeof schema>["NODE_ENV"];
}

/** Parses the environment; throws one readable error listing every invalid variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`FOO=` in an env file) means "unset", not "invalid".
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(source).filter(([, value]) => value !== "")));
  if (!parsed.success) throw new Error(`invalid configuration: ${describeIssues(parsed.error.issues)}`);
  const env = parsed.data;
  let s3: S3Config | undefined;
  try {
    s3 = s3ConfigFromEnv(source);
  } catch (error) {
    throw new Error(`invalid configuration: ${(error as Error).message}`);
  }
  return {
    databaseUrl: env.DATABASE_URL,
    redis: { url: env.REDIS_URL, prefix: env.CAPY_REDIS_PREFIX },
    port: env.PORT,
    host: env.HOST,
    storageDir: env.STORAGE_DIR,
    s3,
    encryptionKey: env.CAPY_ENCRYPTION_KEY ?? readLocalEncryptionKey(),
    logLevel: env.LOG_LEVEL,
    nodeEnv: env.NODE_ENV,
  };
}
