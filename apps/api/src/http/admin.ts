// The queue dashboard (bull-board) at /admin/queues, for operators. Mounted only when
// CAPY_OPERATOR_TOKEN is set (otherwise /admin/queues is a plain 404). Every request under it
// needs the token: `Authorization: Bearer <token>`, or the `capy_operator` cookie that visiting
// /admin/queues?token=<token> once sets, so a browser can use it. Tokens are compared in
// constant time. The UI's scripts, styles and images are served from the package, locally.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { ErrorBody } from "@capy/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.js";

export const ADMIN_QUEUES_PATH = "/admin/queues";
export const OPERATOR_COOKIE = "capy_operator";

/** Constant-time equality of two secrets of any length (compared as SHA-256 digests). */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The cookie holds a value derived from the token, not the token itself. */
export const operatorCookieValue = (token: string) => createHmac("sha256", token).update("capy-operator-cookie").digest("base64url");

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

function refuse(reply: FastifyReply, message: string) {
  return reply
    .status(401)
    .header("www-authenticate", 'Bearer realm="capy-operator"')
    .send({ error: message } satisfies ErrorBody);
}

export function registerAdminQueues(app: FastifyInstance, deps: Pick<AppDeps, "config" | "queue">): void {
  const token = deps.config.operatorToken;
  if (token === undefined) return;
  const cookieValue = operatorCookieValue(token);

  app.register(
    async (admin) => {
      admin.addHook("onRequest", async (request, reply) => {
        const url = new URL(request.url, "http://localhost");
        const queryToken = url.searchParams.get("token");
        if (queryToken !== null) {
          if (!secretsEqual(queryToken, token)) return refuse(reply, "invalid operator token");
          // Remember the operator in this browser, and drop the token from the address bar.
          url.searchParams.delete("token");
          const secure = request.protocol === "https" ? "; Secure" : "";
          return reply
            .header("set-cookie", `${OPERATOR_COOKIE}=${cookieValue}; Path=${ADMIN_QUEUES_PATH}; HttpOnly; SameSite=Strict; Max-Age=43200${secure}`)
            .header("cache-control", "no-store")
            .redirect(`${url.pathname}${url.search}`, 303);
        }
        const authorization = request.headers.authorization;
        if (authorization !== undefined) {
          const match = /^Bearer\s+(\S+)$/i.exec(authorization);
          if (match && secretsEqual(match[1]!, token)) return;
          return refuse(reply, "invalid operator token");
        }
        const fromCookie = cookie(request, OPERATOR_COOKIE);
        if (fromCookie !== undefined && secretsEqual(fromCookie, cookieValue)) return;
        return refuse(reply, fromCookie === undefined ? "operator token required" : "invalid operator token");
      });
      // The page links web fonts from a CDN; nothing leaves this origin, the UI falls back to
      // system fonts.
      admin.addHook("onSend", async (_request, reply, payload) => {
        if (typeof payload !== "string" || !/html/i.test(String(reply.getHeader("content-type") ?? ""))) return payload;
        return payload.replace(/<link[^>]+href="https:\/\/fonts\.(googleapis|gstatic)\.com[^"]*"[^>]*>/gi, "");
      });

      const serverAdapter = new FastifyAdapter();
      serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
      createBullBoard({
        // Read-only: Postgres is the source of truth for jobs; changing BullMQ's copy by hand
        // (retry, remove, clean) would bypass it.
        queues: [new BullMQAdapter(deps.queue, { readOnlyMode: true })],
        // @bull-board/fastify 9.10.1 is typed against @bull-board/api 9.10.1 (private members make
        // the two versions' classes incompatible to tsc); the adapter interface is the same.
        serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]["serverAdapter"],
        options: { uiConfig: { boardTitle: "Capy queues" } },
      });
      await admin.register(serverAdapter.registerPlugin());
    },
    { prefix: ADMIN_QUEUES_PATH },
  );
}
