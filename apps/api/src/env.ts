// The API's configuration: the only module that reads process.env. Every setting has a working
// local default so `pnpm start:api` runs against the local Postgres and Redis with no setup.
import { fileURLToPath } from "node:url";
import { type Keyring, loadKeyring } from "@capy/db";
import { type S3Config, s3ConfigFromEnv } from "@capy/storage";
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
  /** The API's base URL as its clients reach it (the OpenAPI document's server); default http://127.0.0.1:PORT. */
  CAPY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Root directory of the filesystem artifact storage. */
  STORAGE_DIR: z.string().min(1).default("./.data/storage"),
  /** Searched for zstd and age, which decompress and decrypt artifacts for downloads. */
  PATH: z.string().default("/usr/local/bin:/usr/bin:/bin"),
  /** AES-256 key (64 hex characters) sealing secrets at rest: the keyring's current key. */
  CAPY_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters")
    .optional(),
  /** Older keys (comma-separated) that still open what they sealed, until a rotation re-sealed it. */
  CAPY_ENCRYPTION_KEYS_OLD: z.string().optional(),
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
  /** The web console's built files (apps/web/dist of this checkout unless set), served at /. */
  CAPY_CONSOLE_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL("../../web/dist", import.meta.url))),
  /** Live preview databases (creating, ready, deleting) a project may have at once; 409 beyond. */
  PREVIEWS_PER_PROJECT: z.coerce.number().int().min(0).default(10),
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
  /** Base URL clients use (no trailing slash), e.g. https://backups.example.com. */
  publicUrl: string;
  storageDir: string;
  /** PATH, where zstd and age are looked for. */
  searchPath: string;
  /** S3-compatible storage (S3_* variables); unset means the filesystem under storageDir. */
  s3: S3Config | undefined;
  /**
   * Secrets at rest (CAPY_ENCRYPTION_KEY, CAPY_ENCRYPTION_KEYS_OLD): database credentials, preview
   * passwords and webhook secrets; checked against the stored ones at start. Unset when neither
   * CAPY_ENCRYPTION_KEY nor the local development key file exists.
   */
  keyring: Keyring | undefined;
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
  /** Directory of the web console's built files; not served when it has no index.html. */
  consoleDir: string;
  /** PREVIEWS_PER_PROJECT. */
  previewsPerProject: number;
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
  let keyring: Keyring | undefined;
  try {
    keyring = loadKeyring(env.CAPY_ENCRYPTION_KEY, env.CAPY_ENCRYPTION_KEYS_OLD);
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
    publicUrl: (env.CAPY_PUBLIC_URL ?? `http://127.0.0.1:${env.PORT}`).replace(/\/+$/, ""),
    storageDir: env.STORAGE_DIR,
    searchPath: env.PATH,
    s3,
    keyring,
    logLevel: env.LOG_LEVEL,
    logPretty: flag(env.LOG_PRETTY),
    operatorToken: env.CAPY_OPERATOR_TOKEN,
    nodeEnv: env.NODE_ENV,
    sessions,
    rateLimit: { perMinute: env.RATE_LIMIT_PER_MINUTE },
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    trustProxy: env.TRUST_PROXY === undefined ? false : env.TRUST_PROXY === "true" ? true : env.TRUST_PROXY,
    consoleDir: env.CAPY_CONSOLE_DIR,
    previewsPerProject: env.PREVIEWS_PER_PROJECT,
    webhookPolicy: { allowInsecure: flag(env.WEBHOOK_ALLOW_INSECURE), allowPrivateTargets: flag(env.WEBHOOK_ALLOW_PRIVATE_TARGETS) },
  };
}
