-- How each backup's stored bytes are encoded. Existing rows are pg_dump -Fc archives with
-- pg_dump's default gzip compression, stored as they are.
ALTER TABLE "backups" ADD COLUMN "compression" TEXT NOT NULL DEFAULT 'gzip',
ADD COLUMN "compression_level" INTEGER,
ADD COLUMN "archive_format" TEXT NOT NULL DEFAULT 'custom',
ADD COLUMN "stored_encoding" TEXT NOT NULL DEFAULT 'identity',
ADD COLUMN "archive_size_bytes" BIGINT;
