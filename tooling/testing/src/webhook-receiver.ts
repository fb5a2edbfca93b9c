// A real HTTP webhook receiver on 127.0.0.1 for tests: records every request (raw body, headers,
// arrival time) and answers what the test says, per request. It can go down and come back on the
// same port, to play an endpoint that is unreachable for a while.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  body: string;
  headers: IncomingHttpHeaders;
  /** Date.now() when the request's body had arrived. */
  at: number;
  delivery: string;
  event: string;
}

/** What to do with the n-th request (0-based): a status to answer, or "hang" (never answer). */
export type ReceiverResponse = number | "hang";

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** Replaces the answering rule; the default answers 200 to everything. */
  respond(rule: (request: ReceivedWebhook, index: number) => ReceiverResponse): void;
  /** Stops listening (connections refused) until start() again. */
  down(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = "/hooks/capy"): Promise<WebhookReceiver> {
  let rule: (request: ReceivedWebhook, index: number) => ReceiverResponse = () => 200;
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<ServerResponse>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const request: ReceivedWebhook = {
          body: Buffer.concat(chunks).toString("utf8"),
          headers: req.headers,
          at: Date.now(),
          delivery: String(req.headers["x-capydb-delivery"] ?? ""),
          event: String(req.headers["x-capydb-event"] ?? ""),
        };
        received.push(request);
        const answer = rule(request, received.length - 1);
        if (answer === "hang") hanging.add(res);
        else res.writeHead(answer, { "content-type": "text/plain" }).end(`answered ${answer}`);
      });
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    if (!server) return;
    for (const res of hanging) res.destroy();
    hanging.clear();
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  };
  await listen();
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    respond: (next) => (rule = next),
    down: stop,
    start: listen,
    close: stop,
  };
}
