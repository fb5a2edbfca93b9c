export { API_KEY_PREFIX, hashApiKey, isWellFormedApiKey, mintApiKey } from "./api-keys.js";
export {
  type DeleteBackupResult,
  type DeletedBackupRow,
  deleteExpiredBackup,
  deleteIdleBackup,
  findRetentionCandidates,
  lockProjectBackups,
  type OnBackupDeleted,
  type RetentionCandidate,
} from "./backup-deletion.js";
export { type ChangeFeed, type ChangeFeedHandlers, listenForTenancyChanges, TENANCY_CHANNEL } from "./change-feed.js";
export { createDb, type Db, type DbOptions } from "./client.js";
export {
  EncryptionKeyNotFoundError,
  type EncryptionTargets,
  encryptionTargets,
  ensureCurrentEncryptionKey,
  InvalidRecipientError,
  openEncryptionIdentity,
  type PlatformKey,
  parseAgeRecipient,
  RECIPIENT_EXPECTED,
  recipientFingerprint,
  rotateProjectEncryptionKey,
} from "./encryption-keys.js";
export { LOCAL_ENCRYPTION_KEY_FILE, loadDbEnv, loadKeyring, readLocalEncryptionKey } from "./env.js";
export * from "./generated/prisma/client.js";
export {
  type BackupView,
  insertAuditEvent,
  insertJob,
  isUniqueViolation,
  type JobView,
  type NewAuditRow,
  type NewJobRow,
  readJob,
  readJobByIdempotencyKey,
  readProjectBackups,
  readProjectJobs,
  readProjectSchedules,
} from "./hot-paths.js";
export { type IdPrefix, newId } from "./ids.js";
export { ensureDatabaseExists, migrateDatabase } from "./migrate.js";
export { type PgConnection, parsePostgresUrl, quoteIdent, withDatabase } from "./postgres-url.js";
export { assertStoredSecretsOpen, checkStoredSecrets, describeKeys, type SecretsCheck, StoredSecretsError } from "./secrets/check.js";
export { SECRET_COLUMNS, type SecretColumn, secretColumnName } from "./secrets/columns.js";
export { encryptSecret, generateEncryptionKey } from "./secrets/crypto.js";
export { Keyring, KeyringError, keyId, opensWith, sealedKeyId } from "./secrets/keyring.js";
export { type ColumnRotation, type RotationReport, rotateSecrets } from "./secrets/rotate.js";
export { type DemoSeedInput, seedDemo } from "./seed.js";
export { onSharedStatement } from "./shared-statements.js";
export { createApiKey, createProject, registerCluster, revokeApiKey, TenantError } from "./tenants.js";
