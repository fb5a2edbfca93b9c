-- Restores: preview databases, registered cluster admins (a restore job's options live in jobs.payload).
ALTER TABLE "clusters" ADD COLUMN "admin_registered_at" TIMESTAMPTZ(3);

CREATE TABLE "preview_databases" (
    "id" TEXT NOT NULL,
    "organization_id" TEXT NOT NULL,
    "project_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "database_name" TEXT NOT NULL,
    "source_kind" TEXT NOT NULL DEFAULT 'backup',
    "source_backup_id" TEXT,
    "source_backup_key" TEXT,
    "state" TEXT NOT NULL,
    "ttl_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "password_encrypted" TEXT NOT NULL,
    "cluster_id" TEXT,
    "host" TEXT,
    "port" INTEGER,
    "job_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "preview_databases_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "preview_databases_database_name_key" ON "preview_databases"("database_name");
CREATE INDEX "preview_databases_project_id_created_at_idx" ON "preview_databases"("project_id", "created_at");
CREATE INDEX "preview_databases_state_ttl_expires_at_idx" ON "preview_databases"("state", "ttl_expires_at");
