// What a canceled job must not leave in storage: neither the artifacts of the backup rows its
// cancel deleted (the catalogue's cancel hook, in @capy/jobs, reports their keys) nor anything
// else under its storage prefix. The worker's canceled attempt and the job reconciler (a lost job
// whose cancel was requested) both end here, once the cancel committed.
import { type ArtifactStorage, jobArtifactPrefix } from "@capy/storage";
import type { Logger } from "../logger.js";

/** Removes every artifact and unfinished upload under the job's storage prefix, plus `recordedKeys` (best effort). */
export async function discardJobArtifacts(
  storage: ArtifactStorage,
  job: { id: string; projectId: string },
  recordedKeys: readonly string[],
  log: Logger,
): Promise<void> {
  const prefix = jobArtifactPrefix(job.projectId, job.id);
  try {
    const keys = new Set(recordedKeys);
    for await (const key of storage.list(prefix)) keys.add(key);
    for (const key of keys) await storage.delete(key);
    await storage.discardIncomplete?.(prefix);
    if (keys.size > 0) log.info({ removed: [...keys] }, "removed the canceled job's artifacts");
  } catch (error) {
    // Nothing refers to them any more; logged so an operator can remove them.
    log.error({ err: error instanceof Error ? error.message : String(error), prefix }, "could not remove the canceled job's artifacts");
  }
}
