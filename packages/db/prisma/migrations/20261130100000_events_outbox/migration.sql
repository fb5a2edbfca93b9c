-- The transactional outbox of job and backup outcomes (issue 12), and the cluster column no code
-- read (dump concurrency per cluster is DUMP_CONCURRENCY_PER_CLUSTER, a worker setting).

-- AlterTable
ALTER TABLE "clusters" DROP COLUMN "max_concurrent_dumps";

-- CreateTable
CREATE TABLE "events" (
    "seq" BIGSERIAL NOT NULL,
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "organization_id" TEXT NOT NULL,
    "project_id" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "events_seq_key" ON "events"("seq");

-- CreateIndex
CREATE INDEX "events_project_id_seq_idx" ON "events"("project_id", "seq");
