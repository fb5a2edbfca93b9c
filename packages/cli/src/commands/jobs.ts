// capy jobs list | get | watch | cancel
import type { Command } from "commander";
import type { CliEnvironment } from "../env.js";
import { JOB_TABLE_HEAD, jobRow, printJobDetails } from "../jobs-view.js";
import { printJson, printTable } from "../output.js";
import { parseInterval, reportFinishedJob, watchJob } from "../watch.js";
import { intParser, withContext } from "./shared.js";

export function registerJobs(program: Command, env: CliEnvironment): void {
  const jobs = program.command("jobs").description("backup and verification jobs");

  jobs
    .command("list")
    .description("list the project's jobs, newest first")
    .option("--limit <N>", "most jobs to show (1-100)", intParser("--limit", 1, 100), 25)
    .action(
      withContext<[], { limit: number }>(env, async (ctx, options) => {
        const result = await ctx.client().jobs.list.query({ id: ctx.projectId(), limit: options.limit });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.jobs.length === 0) return ctx.output.out("no jobs yet");
        printTable(ctx.output, JOB_TABLE_HEAD, result.jobs.map(jobRow));
      }),
    );

  jobs
    .command("get")
    .description("show one job, with its error and stderr tail")
    .argument("<jobID>", "job id (job_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, jobId) => {
        const result = await ctx.client().jobs.get.query({ jobID: jobId });
        if (ctx.output.json) return printJson(ctx.output, result);
        printJobDetails(ctx.output, result.job);
      }),
    );

  jobs
    .command("cancel")
    .description("cancel a job: a pending one at once, a running one as soon as its worker notices")
    .argument("<jobID>", "job id (job_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, jobId) => {
        const result = await ctx.client().jobs.cancel.mutate({ jobID: jobId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(
          result.job.state === "canceled"
            ? `${result.job.id} canceled`
            : `${result.job.id} cancel requested; it stops once its worker notices (capy jobs watch ${result.job.id})`,
        );
      }),
    );

  jobs
    .command("watch")
    .description("follow a job until it finishes; exit 3 if it fails or is canceled")
    .argument("<jobID>", "job id (job_…)")
    .option("--interval <seconds>", "polling interval", "1")
    .action(
      withContext<[string], { interval: string }>(env, async (ctx, options, jobId) => {
        const intervalMs = parseInterval(options.interval);
        const client = ctx.client();
        const { job } = await client.jobs.get.query({ jobID: jobId });
        reportFinishedJob(ctx.output, await watchJob(client, ctx.output, job, { intervalMs }));
      }),
    );
}
