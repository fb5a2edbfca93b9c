// The tenancy change feed: Postgres notifies TENANCY_CHANNEL at the commit of any change to an
// API key (other than its last_used_at) or a project (triggers of migration
// 20261130130000_tenancy_change_notifications). One dedicated connection per process LISTENs,
// outside the Prisma pool (LISTEN holds its session); it reconnects by itself. Whoever caches
// keys or projects must drop everything on a notification and cache nothing while not live:
// notifications sent while disconnected are lost.
import pg from "pg";

export const TENANCY_CHANNEL = "capy_tenancy_changed";

/** Wait before reconnecting after a lost or failed connection (ms), doubling up to the maximum. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

export interface ChangeFeedHandlers {
  /** A key or project changed (payload: the table name). */
  onChange(payload: string): void;
  /** true once LISTEN is in place; false as soon as the connection is lost. */
  onLive(live: boolean): void;
  /** Connection problems, for the log; the feed retries by itself. */
  onError(error: Error): void;
}

export interface ChangeFeed {
  close(): Promise<void>;
}

export function listenForTenancyChanges(databaseUrl: string, handlers: ChangeFeedHandlers): ChangeFeed {
  let client: pg.Client | undefined;
  let closed = false;
  let delay = RECONNECT_MIN_MS;
  let timer: NodeJS.Timeout | undefined;

  const lost = (error?: Error) => {
    handlers.onLive(false);
    if (error) handlers.onError(error);
    const dead = client;
    client = undefined;
    dead?.removeAllListeners();
    // A broken client may still emit; swallow what comes after we let it go.
    dead?.on("error", () => {});
    void dead?.end().catch(() => {});
    if (closed || timer) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  };

  async function connect(): Promise<void> {
    timer = undefined;
    const next = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, keepAlive: true });
    client = next;
    next.on("notification", (message) => handlers.onChange(message.payload ?? ""));
    next.on("error", (error) => lost(error));
    next.on("end", () => client === next && lost(new Error("change feed connection ended")));
    try {
      await next.connect();
      await next.query(`LISTEN ${TENANCY_CHANNEL}`);
    } catch (error) {
      if (client === next) lost(error as Error);
      return;
    }
    if (closed || client !== next) return;
    delay = RECONNECT_MIN_MS;
    handlers.onLive(true);
  }

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const last = client;
      client = undefined;
      handlers.onLive(false);
      last?.removeAllListeners();
      last?.on("error", () => {});
      await last?.end().catch(() => {});
    },
  };
}
