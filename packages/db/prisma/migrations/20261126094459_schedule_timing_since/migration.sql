-- AlterTable
ALTER TABLE "scheduled_backups" ADD COLUMN     "timing_since" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Existing schedules: their timing took effect at the latest at their last update.
UPDATE "scheduled_backups" SET "timing_since" = "updated_at";
