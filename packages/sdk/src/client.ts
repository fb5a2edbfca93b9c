// The typed client: the API's own tRPC router type over HTTP, plus the one endpoint tRPC cannot
// carry (the binary artifact download, served as REST). Uses only fetch and web streams, so it
// runs unchanged in browsers and in Node 20+.
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import { CapyApiError, parseRetryAfter } from "./errors.js";
import type { AppRouter } from "./generated/router.js";

export interface CapyClientOptions {
  /** e.g. http://127.0.0.1:3000 (no trailing /trpc); "" for the page's own origin in a browser. */
  baseUrl: string;
  /** An API key (capy_live_…) or a session token (JWT); both are sent as a Bearer token. */
  apiKey: string;
  /** Custom fetch (tests, proxies). */
  fetch?: typeof fetch;
}

export interface BackupDownload {
  /** The pg_restore-compatible archive, streamed. */
  body: ReadableStream<Uint8Array>;
  /** Bytes to come; null when the server does not know in advance (an archive decoded on the fly). */
  sizeBytes: number | null;
  /** The server's suggested file name, if it gave one. */
  filename: string | null;
}

export type CapyClient = TRPCClient<AppRouter> & {
  /**
   * The backup's artifact: a pg_restore-ready archive (decrypted and decompressed on the fly by
   * the server), or with `encoding: "stored"` the stored bytes as they are (see the backup's
   * encryption and stored_encoding: an age-encrypted `.dump.zst.age` for new backups).
   */
  downloadBackup(projectId: string, backupId: string, options?: { encoding?: "archive" | "stored" }): Promise<BackupDownload>;
};

export function createCapyClient(options: CapyClientOptions): CapyClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  // Looked up at call time, so a page can swap window.fetch (and `this` stays the global).
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const authorization = { authorization: `Bearer ${options.apiKey}` };
  const trpc = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, headers: () => authorization, fetch: doFetch })],
  });

  const extras = {
    async downloadBackup(projectId: string, backupId: string, options: { encoding?: "archive" | "stored" } = {}): Promise<BackupDownload> {
      const query = options.encoding ? `?encoding=${options.encoding}` : "";
      const url = `${baseUrl}/v1/projects/${encodeURIComponent(projectId)}/backups/${encodeURIComponent(backupId)}/download${query}`;
      const response = await doFetch(url, { headers: authorization });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as { error?: string } | null;
        const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
        throw new CapyApiError(body?.error ?? `download failed with HTTP ${response.status}`, response.status, retryAfter);
      }
      const disposition = response.headers.get("content-disposition") ?? "";
      return {
        body: response.body,
        sizeBytes: response.headers.has("content-length") ? Number(response.headers.get("content-length")) : null,
        filename: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null,
      };
    },
  };
  // The tRPC client is a Proxy (every property is a procedure path), so the extras are layered
  // in front of it with another Proxy rather than assigned onto it.
  return new Proxy(trpc, {
    get: (target, property, receiver) => (Object.hasOwn(extras, property) ? extras[property as keyof typeof extras] : Reflect.get(target, property, receiver)),
  }) as CapyClient;
}
