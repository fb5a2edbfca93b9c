export { createDb, type Db, type DbOptions } from "./client.js";
export * from "./generated/prisma/client.js";
export { encryptSecret, decryptSecret, generateEncryptionKey } from "./crypto.js";
export { newId, type IdPrefix } from "./ids.js";
export { mintApiKey, hashApiKey, isWellFormedApiKey, API_KEY_PREFIX } from "./api-keys.js";
export { migrateDatabase, ensureDatabaseExists } from "./migrate.js";
export { parsePostgresUrl, withDatabase, quoteIdent, type PgConnection } from "./postgres-url.js";
export { createProject, createApiKey, revokeApiKey, TenantError } from "./tenants.js";
export { loadDbEnv, readLocalEncryptionKey, LOCAL_ENCRYPTION_KEY_FILE } from "./env.js";
export { seedDemo, type DemoSeedInput } from "./seed.js";
export {
  deleteIdleBackup,
  deleteExpiredBackup,
  findRetentionCandidates,
  lockProjectBackups,
  type DeleteBackupResult,
  type DeletedBackupRow,
  type OnBackupDeleted,
  type RetentionCandidate,
} from "./backup-deletion.js";
