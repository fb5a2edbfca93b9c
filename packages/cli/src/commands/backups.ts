// capy backups create | list | download | delete
import type { Command } from "commander";
import { downloadBackup } from "../download.js";
import type { CliEnvironment } from "../env.js";
import { humanBytes, printJson, printTable, shortTime } from "../output.js";
import { followCreatedJob, parseInterval, reportFinishedJob } from "../watch.js";
import { withContext } from "./shared.js";

export function registerBackups(program: Command, env: CliEnvironment): void {
  const backups = program.command("backups").description("on-demand backups, the backup list, artifact downloads");

  backups
    .command("create")
    .description("start an on-demand backup of the project's database")
    .option("--label <label>", "free-form label (up to 200 characters)")
    .option("--wait", "follow the job until it finishes; exit 3 if it fails")
    .option("--interval <seconds>", "polling interval with --wait", "1")
    .action(
      withContext<[], { label?: string; wait?: boolean; interval: string }>(env, async (ctx, options) => {
        const intervalMs = parseInterval(options.interval);
        const client = ctx.client();
        const { job } = await client.backups.create.mutate({ id: ctx.projectId(), ...(options.label !== undefined ? { label: options.label } : {}) });
        const finished = await followCreatedJob(client, ctx.output, job, { wait: options.wait, intervalMs });
        if (finished) reportFinishedJob(ctx.output, finished);
      }),
    );

  backups
    .command("list")
    .description("list the project's backups, newest first")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().backups.list.query({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.backups.length === 0) return ctx.output.out("no backups yet");
        printTable(
          ctx.output,
          ["ID", "CREATED", "SIZE", "STATE", "VERIFIED", "DATABASE", "LABEL"],
          result.backups.map((b) => [b.id, shortTime(b.created_at), humanBytes(b.size_bytes), b.state, b.verification_state, b.database_name, b.label ?? ""]),
        );
      }),
    );

  backups
    .command("download")
    .description("download a backup's artifact: a pg_restore archive (decrypted and decompressed on the fly), or with --raw the bytes as stored")
    .argument("<backupID>", "backup id (bkp_…)")
    .option("-o, --output <file>", "where to write it; - for stdout (default: the server's file name)")
    .option("-f, --force", "overwrite an existing file")
    .option("--raw", "the bytes as stored: for an encrypted backup a .dump.zst.age (age -d -i key.txt | zstd -d gives the archive)")
    .option("--stored", "the same as --raw")
    .action(
      withContext<[string], { output?: string; force?: boolean; stored?: boolean; raw?: boolean }>(env, async (ctx, options, backupId) => {
        const client = ctx.client();
        const result = await downloadBackup(client, ctx.output, ctx.projectId(), backupId, { ...options, stored: options.stored || options.raw });
        if (result === undefined) return;
        if (ctx.output.json) printJson(ctx.output, { backup_id: backupId, path: result.path, size_bytes: result.bytes });
        else ctx.output.out(`saved ${result.path} (${humanBytes(result.bytes)})`);
      }),
    );

  backups
    .command("delete")
    .description("delete a backup and its artifact (refused while it is still being made or verified)")
    .argument("<backupID>", "backup id (bkp_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, backupId) => {
        const result = await ctx.client().backups.delete.mutate({ id: ctx.projectId(), backupID: backupId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(`deleted ${result.backup.id} (${humanBytes(result.backup.size_bytes)}, created ${shortTime(result.backup.created_at)})`);
      }),
    );
}
