// Orphan artifacts: stored dumps no backup row refers to and no running job will claim. They
// appear when a process dies between the two steps of a deletion (retention and DELETE remove
// the row first, then the artifact) or when a fenced-off attempt that finished its upload dies
// before removing it. Only attempt keys (projects/<p>/backups/<job>/<token>-<backup>.dump) are
// considered, and only once their job has finished (or no longer exists): an unfinished job's
// artifact may be about to be recorded. Several workers sweeping at once is harmless (deleting a
// missing key is not an error).
import type { Db } from "@capy/db";
import { type ArtifactStorage, jobOfArtifactKey } from "@capy/storage";

/** Keys looked up in Postgres per round trip. */
const BATCH_SIZE = 500;

/** Removes orphan artifacts; returns their keys. */
export async function sweepOrphanArtifacts(db: Db, storage: ArtifactStorage): Promise<string[]> {
  const removed: string[] = [];
  let batch: Array<{ key: string; jobId: string }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const keys = batch.map((entry) => entry.key);
    const jobIds = [...new Set(batch.map((entry) => entry.jobId))];
    const [recorded, unfinished] = await Promise.all([
      db.backup.findMany({ where: { backupKey: { in: keys } }, select: { backupKey: true } }),
      db.job.findMany({ where: { id: { in: jobIds }, state: { in: ["pending", "running"] } }, select: { id: true } }),
    ]);
    const keep = new Set(recorded.map((row) => row.backupKey));
    const busy = new Set(unfinished.map((row) => row.id));
    for (const { key, jobId } of batch) {
      if (keep.has(key) || busy.has(jobId)) continue;
      await storage.delete(key);
      removed.push(key);
    }
    batch = [];
  };
  for await (const key of storage.list("projects/")) {
    const jobId = jobOfArtifactKey(key);
    if (!jobId) continue;
    batch.push({ key, jobId });
    if (batch.length >= BATCH_SIZE) await flush();
  }
  await flush();
  return removed;
}
