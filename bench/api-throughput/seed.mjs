// The tenant bench/api-throughput serves: one project (on a registered cluster) with a daily
// schedule, BACKUPS completed backups and JOBS completed jobs.
import { createProject, Keyring, newId, registerCluster, withDatabase } from "@capy/db";

export const BACKUPS = 100;
export const JOBS = 30;

/** The tenant the API serves: a project with a schedule, BACKUPS backups and JOBS jobs. */
export async function seed(db, source, encryptionKey) {
  const keyring = new Keyring(encryptionKey);
  await registerCluster(db, { adminUrl: withDatabase(source.url, "postgres"), keyring });
  const tenant = await createProject(db, { organizationName: "bench", projectName: "shop", databaseUrl: source.url, keyring });
  const project = await db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
  const owner = { organizationId: project.organizationId, projectId: project.id };
  await db.scheduledBackup.create({ data: { id: newId("sch"), ...owner, label: "nightly", cronHour: 3, cronMinute: 30, isActive: true, retentionDays: 14 } });
  const jobs = Array.from({ length: JOBS }, (_, i) => ({
    id: newId("job"),
    ...owner,
    type: "backup",
    state: "completed",
    attempts: 1,
    clusterId: project.clusterId,
    lockedResource: `database:${project.clusterId}/${project.databaseName}`,
    lastExitCode: 0,
    startedAt: new Date(Date.now() - (JOBS - i) * 60_000),
    completedAt: new Date(Date.now() - (JOBS - i) * 60_000 + 5_000),
  }));
  await db.job.createMany({ data: jobs });
  await db.backup.createMany({
    data: Array.from({ length: BACKUPS }, (_, i) => ({
      id: newId("bkp"),
      ...owner,
      jobId: i < JOBS ? jobs[i].id : newId("job"),
      databaseName: project.databaseName,
      label: `backup ${i}`,
      backupKey: `${project.id}/${newId("bkp")}.dump`,
      sizeBytes: BigInt(1_000_000 + i),
      sha256: "0".repeat(64),
      state: "completed",
      verificationState: "verified",
      verifiedAt: new Date(),
    })),
  });
  // Autovacuum would otherwise analyze the freshly filled tables during the first endpoint
  // measured (GET …/scheduled-backups ran at half its rate when first, not when alone).
  await db.$executeRawUnsafe("VACUUM ANALYZE");
  return { ...tenant, jobId: jobs.at(-1).id };
}
