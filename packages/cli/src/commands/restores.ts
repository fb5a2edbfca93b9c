// capy restores create

import { RESTORE_TARGET_KINDS, type RestoreTargetKind, TTL_HOURS } from "@capy/contracts";
import { type Command, InvalidArgumentError } from "commander";
import type { CliEnvironment } from "../env.js";
import { printJobDetails } from "../jobs-view.js";
import { printJson } from "../output.js";
import { followCreatedJob, parseInterval, reportFinishedJob } from "../watch.js";
import { intParser, withContext } from "./shared.js";

interface CreateOptions {
  backup: string;
  target: RestoreTargetKind;
  preview?: string;
  name?: string;
  ttlHours?: number;
  table: string[];
  confirm?: boolean;
  force?: boolean;
  wait?: boolean;
  interval: string;
}

function parseTarget(value: string): RestoreTargetKind {
  if (!(RESTORE_TARGET_KINDS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`--target must be one of ${RESTORE_TARGET_KINDS.join(", ")}.`);
  return value as RestoreTargetKind;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRestores(program: Command, env: CliEnvironment): void {
  const restores = program.command("restores").description("restore a backup into a preview database or over the project");

  restores
    .command("create")
    .description("restore a backup (default: into a new preview database)")
    .requiredOption("--backup <id>", "backup id (bkp_…)")
    .option("--target <kind>", `${RESTORE_TARGET_KINDS.join(" | ")}`, parseTarget, "new_preview")
    .option("--preview <id>", "with --target preview: the preview to overwrite (pvw_…)")
    .option("--name <name>", "name of the new preview")
    .option(
      "--ttl-hours <hours>",
      `hours until the new preview is dropped (default ${TTL_HOURS.default})`,
      intParser("--ttl-hours", TTL_HOURS.min, TTL_HOURS.max),
    )
    .option("--table <schema.table>", "restore only this table (repeatable)", collect, [])
    .option("--confirm", "with --target project: yes, replace the project's database")
    .option("--force", "restore a backup whose verification failed")
    .option("--wait", "follow the job; print the preview's connection URI when done (exit 3 if it fails)")
    .option("--interval <seconds>", "polling interval with --wait", "1")
    .action(
      withContext<[], CreateOptions>(env, async (ctx, options) => {
        const intervalMs = parseInterval(options.interval);
        const client = ctx.client();
        const projectId = ctx.projectId();
        const { job } = await client.restores.create.mutate({
          id: projectId,
          backup_id: options.backup,
          target_kind: options.target,
          ...(options.preview ? { preview_database_id: options.preview } : {}),
          ...(options.name ? { preview_name: options.name } : {}),
          ...(options.ttlHours !== undefined ? { ttl_hours: options.ttlHours } : {}),
          ...(options.table.length > 0 ? { tables: options.table } : {}),
          ...(options.confirm ? { confirm: true } : {}),
          ...(options.force ? { force: true } : {}),
        });
        const finished = await followCreatedJob(client, ctx.output, job, { wait: options.wait, intervalMs });
        if (!finished) return;
        if (finished.state !== "completed" || !finished.preview_database_id) return reportFinishedJob(ctx.output, finished);
        const { credentials } = await client.previewDatabases.credentials.query({ id: projectId, previewID: finished.preview_database_id });
        if (ctx.output.json) return printJson(ctx.output, { job: finished, credentials });
        printJobDetails(ctx.output, finished);
        ctx.output.out(credentials.connection_uri);
      }),
    );
}
