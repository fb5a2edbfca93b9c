-- A job kind's payload fields that have no column of their own (@capy/jobs create.ts), so a new
-- kind adds its fields in its catalogue entry alone.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "payload" JSONB NOT NULL DEFAULT '{}';
