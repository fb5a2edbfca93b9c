export { createDb, type Db, type DbOptions } from "./client.js";
export * from "./generated/prisma/client.js";
export { encryptSecret, generateEncryptionKey } from "./secrets/crypto.js";
export { Keyring, KeyringError, keyId, opensWith, sealedKeyId } from "./secrets/keyring.js";
export { SECRET_COLUMNS, secretColumnName, type SecretColumn } from "./secrets/columns.js";
export { rotateSecrets, type RotationReport, type ColumnRotation } from "./secrets/rotate.js";
export { assertStoredSecretsOpen, checkStoredSecrets, describeKeys, StoredSecretsError, type SecretsCheck } from "./secrets/check.js";
export { newId, type IdPrefix } from "./ids.js";
export { mintApiKey, hashApiKey, isWellFormedApiKey, API_KEY_PREFIX } from "./api-keys.js";
export { migrateDatabase, ensureDatabaseExists } from "./migrate.js";
export { parsePostgresUrl, withDatabase, quoteIdent, type PgConnection } from "./postgres-url.js";
export { createProject, createApiKey, revokeApiKey, TenantError } from "./tenants.js";
export { loadDbEnv, loadKeyring, readLocalEncryptionKey, LOCAL_ENCRYPTION_KEY_FILE } from "./env.js";
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
export { listenForTenancyChanges, TENANCY_CHANNEL, type ChangeFeed, type ChangeFeedHandlers } from "./change-feed.js";
export { asModelRows } from "./model-rows.js";
