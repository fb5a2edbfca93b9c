#!/usr/bin/env node
// bench/webhook-throughput: how fast outbox events reach a customer's endpoint.
// N events are appended to the outbox in one transaction (the way @capy/jobs appends them, as
// rows of `events`); one real worker fans them out, queues and sends them (signed) to a local
// receiver that answers 204 at once. Printed per round: seconds until all N arrived, the
// latency from the commit to each arrival (median, p95), and the ratio against a baseline
// measured in the same run: the same N bodies POSTed straight to the same receiver from this
// process with the same concurrency (WEBHOOK_CONCURRENCY).
// Everything is private and removed afterwards (its own metadata database and Redis prefix).
// Usage: pnpm bench:webhook-throughput [--events 2000] [--rounds 3] [--concurrency 20]
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { createApiKey } from "@capy/db";
import { createTestStack, startWebhookReceiver, waitFor, withAdminClient } from "@capy/testing";

const { values: args } = parseArgs({
  options: { events: { type: "string", default: "2000" }, rounds: { type: "string", default: "3" }, concurrency: { type: "string", default: "20" } },
});
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const log = (...parts) => console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const p95 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** A job.completed payload of realistic size (~1 KiB). */
const jobData = (id, projectId, orgId) => ({
  id,
  type: "backup",
  state: "completed",
  attempts: 1,
  max_attempts: 3,
  claimed_at: new Date().toISOString(),
  claimed_by: "bench:1",
  cluster_id: "cls_bench",
  locked_resource: "database:cls_bench/shop",
  preview_database_id: null,
  retry_classification: null,
  last_exit_code: 0,
  last_stdout: "",
  last_stderr: "pg_dump: dumping contents of table public.accounts\n".repeat(8),
  error: null,
  started_at: new Date().toISOString(),
  completed_at: new Date().toISOString(),
  organization_id: orgId,
  project_id: projectId,
  created_at: new Date().toISOString(),
  updated_at: new Date().toISOString(),
  phase: "done",
  progress_bytes: 1_410_911,
});

async function baseline(url, bodies) {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
        await response.arrayBuffer();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

async function main() {
  const stack = await createTestStack({ WEBHOOK_CONCURRENCY: String(CONCURRENCY) });
  const receiver = await startWebhookReceiver();
  receiver.respond(() => 204);
  try {
    const tenant = await stack.createTenant("bench", "hooks", stack.metadata.url);
    const orgKey = (await createApiKey(stack.db, { organizationId: tenant.organization_id, name: "bench" })).plaintext;
    await Promise.all([stack.startApi(), stack.startWorker()]);
    const created = await fetch(`${stack.api.baseUrl}/v1/organizations/${tenant.organization_id}/webhooks`, {
      method: "POST",
      headers: { authorization: `Bearer ${orgKey}`, "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url, events: ["*"] }),
    });
    if (created.status !== 201) throw new Error(`creating the webhook answered ${created.status}`);
    const results = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const ids = Array.from({ length: EVENTS }, () => `evt_bench${randomBytes(10).toString("hex")}`);
      const bodies = ids.map((id) =>
        JSON.stringify({ id, type: "job.completed", created_at: new Date().toISOString(), data: jobData(id, tenant.project_id, tenant.organization_id) }),
      );
      receiver.received.length = 0;
      const baseS = await baseline(receiver.url, bodies);
      receiver.received.length = 0;
      const committedAt = Date.now();
      await withAdminClient(
        (client) =>
          client.query(
            `INSERT INTO events (id, type, organization_id, project_id, data)
         SELECT e->>'id', 'job.completed', $1, $2, e->'data' FROM jsonb_array_elements($3::jsonb) e`,
            [tenant.organization_id, tenant.project_id, JSON.stringify(bodies.map((b) => JSON.parse(b)))],
          ),
        stack.metadata.url,
      );
      await waitFor(() => new Set(receiver.received.map((r) => r.delivery)).size >= EVENTS, { timeoutMs: 600_000, intervalMs: 50, what: "every delivery" });
      const latencies = receiver.received.map((r) => r.at - committedAt);
      const allS = Math.max(...latencies) / 1000;
      results.push({ allS, baseS, ratio: allS / baseS, medianMs: median(latencies), p95Ms: p95(latencies) });
      log(
        `round ${round}: ${EVENTS} events delivered in ${allS.toFixed(2)} s (latency median ${median(latencies)} ms, p95 ${p95(latencies)} ms); direct POSTs ${baseS.toFixed(2)} s; ratio ${(allS / baseS).toFixed(2)}; load ${load()}`,
      );
    }
    log(
      `median of ${ROUNDS}: delivered in ${median(results.map((r) => r.allS)).toFixed(2)} s, ratio to direct POSTs ${median(results.map((r) => r.ratio)).toFixed(2)}, latency median ${median(results.map((r) => r.medianMs))} ms, p95 ${median(results.map((r) => r.p95Ms))} ms (${EVENTS} events, WEBHOOK_CONCURRENCY ${CONCURRENCY}, 1 worker, ${os.cpus().length} cores, load ${load()})`,
    );
  } finally {
    await receiver.close();
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
