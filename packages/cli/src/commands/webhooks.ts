// capy webhooks list | create | delete | test | deliveries. Webhooks belong to the caller's
// organization (read from /v1/me); a project key sees and manages its project's only.
import { type Command, InvalidArgumentError } from "commander";
import type { Context } from "../context.js";
import type { CliEnvironment } from "../env.js";
import { CliError, EXIT } from "../errors.js";
import { printJson, printKeyValue, printTable, shortTime } from "../output.js";
import { intParser, withContext } from "./shared.js";

async function organizationId(ctx: Context): Promise<string> {
  return (await ctx.client().me.get.query({})).principal.organization_id;
}

const eventList = (value: string): string[] => {
  const events = value
    .split(",")
    .map((type) => type.trim())
    .filter(Boolean);
  if (events.length === 0) throw new InvalidArgumentError("--events needs at least one event type, or *.");
  return events;
};

const DELIVERY_HEAD = ["id", "event", "state", "attempts", "status", "ms", "created", "error"];

export function registerWebhooks(program: Command, env: CliEnvironment): void {
  const webhooks = program.command("webhooks").description("signed webhook endpoints receiving job and backup events");

  webhooks
    .command("list")
    .description("list the organization's webhook endpoints")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().webhooks.list.query({ orgID: await organizationId(ctx) });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.webhooks.length === 0) return ctx.output.out("no webhooks yet");
        printTable(
          ctx.output,
          ["id", "url", "events", "project", "active", "health"],
          result.webhooks.map((w) => [w.id, w.url, w.events.join(","), w.project_id ?? "(all)", w.is_active ? "yes" : "no", w.health]),
        );
      }),
    );

  webhooks
    .command("create")
    .description("create an endpoint; prints its signing secret, shown only once")
    .requiredOption("--url <url>", "https URL receiving the POSTs")
    .option("--events <types>", "comma-separated event types (job.completed,job.failed,…) or *", eventList, ["*"])
    .option("--description <text>", "free-form description")
    .option("--project-only", "deliver only the events of the project (--project / $CAPY_PROJECT_ID)")
    .action(
      withContext<[], { url: string; events: string[]; description?: string; projectOnly?: boolean }>(env, async (ctx, options) => {
        const result = await ctx.client().webhooks.create.mutate({
          orgID: await organizationId(ctx),
          url: options.url,
          events: options.events,
          description: options.description ?? null,
          project_id: options.projectOnly ? ctx.projectId() : null,
        });
        if (ctx.output.json) return printJson(ctx.output, result);
        printKeyValue(ctx.output, [
          ["id", result.webhook.id],
          ["url", result.webhook.url],
          ["events", result.webhook.events.join(",")],
          ["secret", result.secret],
        ]);
        ctx.output.err("The secret is shown only now: store it where your receiver reads it (verifyWebhookSignature in @capy/sdk).");
      }),
    );

  webhooks
    .command("delete")
    .description("delete an endpoint and its deliveries")
    .argument("<webhookID>", "webhook id (whk_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, webhookId) => {
        const result = await ctx.client().webhooks.delete.mutate({ orgID: await organizationId(ctx), webhookID: webhookId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(`${result.webhook.id} deleted`);
      }),
    );

  webhooks
    .command("test")
    .description("send a ping event; with --wait, follow it until delivered (exit 1 if it fails)")
    .argument("<webhookID>", "webhook id (whk_…)")
    .option("--wait", "wait for the delivery's outcome (at most --timeout seconds)")
    .option("--timeout <seconds>", "how long --wait waits", intParser("--timeout", 1, 3_600), 30)
    .action(
      withContext<[string], { wait?: boolean; timeout: number }>(env, async (ctx, options, webhookId) => {
        const orgID = await organizationId(ctx);
        let { delivery } = await ctx.client().webhooks.test.mutate({ orgID, webhookID: webhookId });
        const deadline = Date.now() + options.timeout * 1000;
        while (options.wait && delivery.state === "pending" && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          const { deliveries } = await ctx.client().webhooks.deliveries.query({ orgID, webhookID: webhookId, limit: 100 });
          delivery = deliveries.find((d) => d.id === delivery.id) ?? delivery;
        }
        if (ctx.output.json) printJson(ctx.output, { delivery });
        else
          ctx.output.out(
            `${delivery.id}: ${delivery.state}${delivery.last_status_code ? ` (HTTP ${delivery.last_status_code})` : ""}${delivery.last_error ? `: ${delivery.last_error}` : ""}`,
          );
        if (options.wait && delivery.state !== "succeeded") throw new CliError(`ping ${delivery.id} not delivered (${delivery.state})`, EXIT.ERROR);
      }),
    );

  webhooks
    .command("deliveries")
    .description("list an endpoint's deliveries, newest first")
    .argument("<webhookID>", "webhook id (whk_…)")
    .option("--limit <N>", "most deliveries to show (1-100)", intParser("--limit", 1, 100), 25)
    .action(
      withContext<[string], { limit: number }>(env, async (ctx, options, webhookId) => {
        const result = await ctx.client().webhooks.deliveries.query({ orgID: await organizationId(ctx), webhookID: webhookId, limit: options.limit });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.deliveries.length === 0) return ctx.output.out("no deliveries yet");
        printTable(
          ctx.output,
          DELIVERY_HEAD,
          result.deliveries.map((d) => [
            d.id,
            d.event_type,
            d.state,
            d.attempts,
            d.last_status_code ?? "-",
            d.last_response_ms ?? "-",
            shortTime(d.created_at),
            d.last_error ?? "",
          ]),
        );
      }),
    );
}
