// capy previews list | get | delete | credentials

import type { PreviewDatabase } from "@capy/contracts";
import type { Command } from "commander";
import type { CliEnvironment } from "../env.js";
import { type Output, printJson, printKeyValue, printTable, shortTime } from "../output.js";
import { withContext } from "./shared.js";

function printPreview(output: Output, preview: PreviewDatabase): void {
  printKeyValue(output, [
    ["id", preview.id],
    ["name", preview.name],
    ["state", preview.state],
    ["database", preview.database_name],
    ["backup", preview.source_backup_id],
    ["expires", shortTime(preview.ttl_expires_at)],
    ["created", shortTime(preview.created_at)],
  ]);
}

export function registerPreviews(program: Command, env: CliEnvironment): void {
  const previews = program.command("previews").description("preview databases restored from backups");

  previews
    .command("list")
    .description("list the project's preview databases, newest first")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().previewDatabases.list.query({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.preview_databases.length === 0) return ctx.output.out("no preview databases");
        printTable(
          ctx.output,
          ["ID", "NAME", "STATE", "DATABASE", "BACKUP", "EXPIRES"],
          result.preview_databases.map((p) => [p.id, p.name, p.state, p.database_name, p.source_backup_id ?? "", shortTime(p.ttl_expires_at)]),
        );
      }),
    );

  previews
    .command("get")
    .description("show one preview database")
    .argument("<previewID>", "preview id (pvw_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, previewId) => {
        const result = await ctx.client().previewDatabases.get.query({ id: ctx.projectId(), previewID: previewId });
        if (ctx.output.json) return printJson(ctx.output, result);
        printPreview(ctx.output, result.preview_database);
      }),
    );

  previews
    .command("delete")
    .description("drop a preview database and its role")
    .argument("<previewID>", "preview id (pvw_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, previewId) => {
        const result = await ctx.client().previewDatabases.delete.mutate({ id: ctx.projectId(), previewID: previewId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(`deleting ${result.preview_database.id} (${result.preview_database.database_name})`);
      }),
    );

  previews
    .command("credentials")
    .description("print a ready preview's connection URI (--json: every field)")
    .argument("<previewID>", "preview id (pvw_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, previewId) => {
        const result = await ctx.client().previewDatabases.credentials.query({ id: ctx.projectId(), previewID: previewId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(result.credentials.connection_uri);
      }),
    );
}
