// The typed client for TypeScript users: the API's own tRPC router type over HTTP, plus the
// one endpoint tRPC cannot carry (the binary artifact download, served as REST).
import { createTRPCClient, httpLink, TRPCClientError, type TRPCClient } from "@trpc/client";
import type { AppRouter } from "@capy/api";

export interface CapyClientOptions {
  /** e.g. http://127.0.0.1:3000 (no trailing /trpc). */
  baseUrl: string;
  /** capy_live_… */
  apiKey: string;
  /** Custom fetch (tests, proxies). */
  fetch?: typeof fetch;
}

export class CapyApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "CapyApiError";
  }
}

export type CapyClient = TRPCClient<AppRouter> & {
  /** Streams a backup's artifact (a pg_restore-compatible archive). */
  /**
   * The backup's artifact: a pg_restore-ready archive (decompressed on the fly by the server), or
   * with `encoding: "stored"` the stored bytes as they are (see the backup's stored_encoding).
   * `sizeBytes` is null when the server does not know it in advance.
   */
  downloadBackup(
    projectId: string,
    backupId: string,
    options?: { encoding?: "archive" | "stored" },
  ): Promise<{ body: ReadableStream<Uint8Array>; sizeBytes: number | null; filename: string | null }>;
};

export function createCapyClient(options: CapyClientOptions): CapyClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const authorization = { authorization: `Bearer ${options.apiKey}` };
  const trpc = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, headers: () => authorization, fetch: doFetch })],
  });

  const extras = {
    async downloadBackup(projectId: string, backupId: string, options: { encoding?: "archive" | "stored" } = {}) {
      const query = options.encoding ? `?encoding=${options.encoding}` : "";
      const url = `${baseUrl}/v1/projects/${encodeURIComponent(projectId)}/backups/${encodeURIComponent(backupId)}/download${query}`;
      const response = await doFetch(url, { headers: authorization });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as { error?: string } | null;
        throw new CapyApiError(body?.error ?? `download failed with HTTP ${response.status}`, response.status);
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
    get: (target, property, receiver) =>
      Object.hasOwn(extras, property) ? extras[property as keyof typeof extras] : Reflect.get(target, property, receiver),
  }) as CapyClient;
}


/** HTTP status of a failed call, whichever transport raised it. */
export function errorStatus(error: unknown): number | undefined {
  if (error instanceof CapyApiError) return error.status;
  if (error instanceof TRPCClientError) return (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  return undefined;
}
