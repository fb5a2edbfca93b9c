#!/usr/bin/env node
// `capy`: the Capy Backups command-line tool. Wiring only: global options, command modules, and
// the single place where failures become a message on stderr and an exit code.
import { Command, CommanderError } from "commander";
import { registerBackups } from "./commands/backups.js";
import { registerEncryption } from "./commands/encryption.js";
import { registerJobs } from "./commands/jobs.js";
import { registerPreviews } from "./commands/previews.js";
import { registerRestores } from "./commands/restores.js";
import { registerSchedule } from "./commands/schedule.js";
import { registerWebhooks } from "./commands/webhooks.js";
import { lastApiUrl } from "./context.js";
import { readEnvironment } from "./env.js";
import { describeFailure, EXIT, EXIT_CODES_HELP } from "./errors.js";

const HELP_FOOTER = `
Configuration:
  CAPY_API_URL     API base URL, e.g. https://backups.example.com (or --api-url)
  CAPY_API_KEY     API key capy_live_… (or --api-key)
  CAPY_PROJECT_ID  project id prj_… (or --project)

Examples:
  capy backups create --project prj_123 --label "before migration" --wait
  capy backups list --json | jq -r '.backups[0].id'
  capy backups download bkp_123 -o shop.dump && pg_restore -d "$TARGET_URL" shop.dump
  capy schedule set --hour 3 --minute 30 --retention-days 14
  capy jobs watch job_123
  capy restores create --backup bkp_123 --wait          # prints the new preview's connection URI
  capy previews list
  capy webhooks create --url https://hooks.example.com/capy --events job.completed,job.failed
  capy webhooks test whk_123 --wait
  capy encryption recipients add "$(age-keygen -y key.txt)" --label "offline key"
  capy encryption rotate
${EXIT_CODES_HELP}`;

export function buildProgram(): Command {
  const env = readEnvironment();
  const program = new Command("capy")
    .description("Capy Backups: on-demand and scheduled backups of your CapyDB PostgreSQL databases")
    .option("--api-url <url>", "API base URL (default: $CAPY_API_URL)")
    .option("--api-key <key>", "API key (default: $CAPY_API_KEY, the better place: other users of the machine can read a command line)")
    .option("--project <id>", "project id (default: $CAPY_PROJECT_ID)")
    .option("--json", "print the API's JSON objects instead of tables (for scripts)")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", HELP_FOOTER)
    .exitOverride();
  registerBackups(program, env);
  registerSchedule(program, env);
  registerJobs(program, env);
  registerRestores(program, env);
  registerPreviews(program, env);
  registerWebhooks(program, env);
  registerEncryption(program, env);
  exitOverrideAll(program);
  return program;
}

/** Every (sub)command throws instead of exiting, at any depth (`capy encryption recipients add`). */
function exitOverrideAll(command: Command): void {
  for (const sub of command.commands) {
    sub.exitOverride();
    exitOverrideAll(sub);
  }
}

/** A closed pipe on stdout (`capy backups list | head -1`) ends the command quietly. */
const isBrokenPipe = (error: unknown) => (error as { code?: unknown } | null)?.code === "EPIPE";

async function main(argv: string[]): Promise<number> {
  process.stdout.on("error", (error) => {
    if (isBrokenPipe(error)) process.exit(EXIT.ERROR);
    throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the message (or the help / version text).
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (isBrokenPipe(error)) return EXIT.ERROR;
    const failure = describeFailure(error, lastApiUrl.value);
    process.stderr.write(`capy: ${failure.message}\n`);
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv);
