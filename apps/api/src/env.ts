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
  /** "1": human-readable logs through pino-pretty (pnpm dev); otherwise JSON lines. */
  LOG_PRETTY: z.enum(["0", "1", "true", "false"]).default("0"),
  /**
   * Operator token for the queue dashboard at /admin/queues (at least 16 characters); unset =
   * the dashboard is not mounted.
   */
  CAPY_OPERATOR_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  /** Session tokens: a PEM (SPKI) public key file, or a local JWKS JSON file; unset = sessions off. */
  CAPY_JWT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  CAPY_JWT_JWKS_FILE: z.string().min(1).optional(),
  /** Required `iss` of session tokens; required when sessions are on. */
  CAPY_JWT_ISSUER: z.string().min(1).optional(),
  /** Required `aud` of session tokens, when set. */
  CAPY_JWT_AUDIENCE: z.string().min(1).optional(),
  /** Requests per minute per API key / session user, and per client address when unauthenticated. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /**
   * Behind a reverse proxy: "true" (trust X-Forwarded-For from anyone) or comma-separated
   * proxy addresses/CIDRs. Unset: the socket's address is the client's, which
   * is what per-address rate limits use.
   */
  TRUST_PROXY: z.string().min(1).optional(),
  /** Largest accepted request body (bytes); larger ones get 413. */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(65_536),
  /** "1": webhook URLs may use plain http (development and tests only). */
  WEBHOOK_ALLOW_INSECURE: z.enum(["0", "1", "true", "false"]).default("0"),
  /** "1": webhook URLs may point at loopback, private, link-local, … addresses (development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z.enum(["0", "1", "true", "false"]).default("0"),
});

const flag = (value: "0" | "1" | "true" | "false") => value === "1" || value === "true";

export interface Config {
  databaseUrl: string;
  redis: { url: string; prefix: string };
  port: number;
  host: string;
  storageDir: string;
  /** S3-compatible storage (S3_* variables); unset means the filesystem under storageDir. */
  s3: S3Config | undefined;
  /**
   * For database credentials and webhook secrets at rest (webhook secrets are sealed with it
   * at creation and rotation). Unset when neither
   * CAPY_ENCRYPTION_KEY nor the local development key file exists.
   */
  encryptionKey: string | undefined;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
  /** pino-pretty instead of JSON lines. */
  logPretty: boolean;
  /** Token guarding /admin/queues; undefined = no dashboard. */
  operatorToken: string | undefined;
  nodeEnv: z.infer<typeof schema>["NODE_ENV"];
  /** Session-token (JWT) verification; undefined when no key is configured (sessions rejected). */
  sessions: SessionConfig | undefined;
  rateLimit: { perMinute: number };
  bodyLimitBytes: number;
  /** Fastify's trustProxy; false unless TRUST_PROXY is set. */
  trustProxy: boolean | string;
  /** Where webhook URLs may point (checked at creation; the workers check again at delivery). */
  webhookPolicy: { allowInsecure: boolean; allowPrivateTargets: boolean };
}

export interface SessionConfig {
  /** Exactly one of publicKeyFile and jwksFile is set. */
  publicKeyFile: string | undefined;
  jwksFile: string | undefined;
  issuer: string;
  audience: string | undefined;
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
  let sessions: SessionConfig | undefined;
  if (env.CAPY_JWT_PUBLIC_KEY_FILE !== undefined || env.CAPY_JWT_JWKS_FILE !== undefined) {
    const problems = [
      env.CAPY_JWT_PUBLIC_KEY_FILE !== undefined && env.CAPY_JWT_JWKS_FILE !== undefined
        ? "CAPY_JWT_PUBLIC_KEY_FILE, CAPY_JWT_JWKS_FILE: set only one"
        : undefined,
      env.CAPY_JWT_ISSUER === undefined ? "CAPY_JWT_ISSUER: required when session tokens are enabled" : undefined,
    ].filter((problem) => problem !== undefined);
    if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join("; ")}`);
    sessions = {
      publicKeyFile: env.CAPY_JWT_PUBLIC_KEY_FILE,
      jwksFile: env.CAPY_JWT_JWKS_FILE,
      issuer: env.CAPY_JWT_ISSUER!,
      audience: env.CAPY_JWT_AUDIENCE,
    };
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
    logPretty: flag(env.LOG_PRETTY),
    operatorToken: env.CAPY_OPERATOR_TOKEN,
    nodeEnv: env.NODE_ENV,
    sessions,
    rateLimit: { perMinute: env.RATE_LIMIT_PER_MINUTE },
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    trustProxy: env.TRUST_PROXY === undefined ? false : env.TRUST_PROXY === "true" ? true : env.TRUST_PROXY,
    webhookPolicy: { allowInsecure: flag(env.WEBHOOK_ALLOW_INSECURE), allowPrivateTargets: flag(env.WEBHOOK_ALLOW_PRIVATE_TARGETS) },
  };
}
