-- Issue 19: encrypted artifacts. A project's platform key pairs (age X25519, the identity sealed by
-- the keyring), its customers' own recipients, and what each backup was encrypted with. Existing
-- backups are not encrypted: encryption and encryption_key_id stay null for them.
-- (No semicolon in these comments: the migration runner splits the script on them.)
-- AlterTable
ALTER TABLE "backups" ADD COLUMN     "encryption" TEXT,
ADD COLUMN     "encryption_key_id" TEXT;

-- CreateTable
CREATE TABLE "project_encryption_keys" (
    "id" TEXT NOT NULL,
    "project_id" TEXT NOT NULL,
    "public_key" TEXT NOT NULL,
    "private_key_encrypted" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(3),

    CONSTRAINT "project_encryption_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "encryption_recipients" (
    "id" TEXT NOT NULL,
    "project_id" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "public_key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "encryption_recipients_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "project_encryption_keys_project_id_created_at_idx" ON "project_encryption_keys"("project_id", "created_at");

-- One current key per project (retired_at null): two workers creating a project's first key at once
-- end with one, the loser reads the winner's. Prisma 6 cannot declare a partial index, so it lives
-- here only (schema.prisma says so beside the model).
CREATE UNIQUE INDEX "project_encryption_keys_one_current" ON "project_encryption_keys"("project_id") WHERE "retired_at" IS NULL;

-- CreateIndex
CREATE INDEX "encryption_recipients_project_id_created_at_idx" ON "encryption_recipients"("project_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "encryption_recipients_project_id_public_key_key" ON "encryption_recipients"("project_id", "public_key");

-- AddForeignKey
ALTER TABLE "backups" ADD CONSTRAINT "backups_encryption_key_id_fkey" FOREIGN KEY ("encryption_key_id") REFERENCES "project_encryption_keys"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- AddForeignKey
ALTER TABLE "project_encryption_keys" ADD CONSTRAINT "project_encryption_keys_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "encryption_recipients" ADD CONSTRAINT "encryption_recipients_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
