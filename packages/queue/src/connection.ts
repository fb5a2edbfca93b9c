// Redis connections for BullMQ. Queues (producers) and workers get separate connections, as
// BullMQ's guide asks: a worker's blocking commands must not stall a producer, and workers need
// maxRetriesPerRequest: null so a Redis restart makes them wait and reconnect rather than throw.
import { Redis, type RedisOptions } from "ioredis";

export interface RedisConfig {
  /** redis://host:port/db — the database index is honoured. */
  url: string;
  /** Key prefix for every BullMQ key, so deployments (and test runs) never collide. */
  prefix: string;
}

function connect(url: string, options: RedisOptions): Redis {
  const redis = new Redis(url, {
    // Reconnect forever with a capped delay (ms); never give up on a restarted Redis.
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    ...options,
  });
  // An unhandled 'error' event would crash the process; the reconnect loop handles recovery.
  redis.on("error", () => {});
  return redis;
}

/**
 * For Queue (producers): commands fail fast when Redis is down, so the API can answer. Not
 * auto-pipelined: ioredis builds each pipeline by copying every defined script (BullMQ's ~50),
 * which cost concurrent POSTs more CPU than the sends it saved (bench/api-throughput, 5-7 %
 * fewer req/s).
 */
export function createProducerConnection(config: RedisConfig): Redis {
  return connect(config.url, { maxRetriesPerRequest: 3, enableOfflineQueue: false });
}

/**
 * Holds what is written on `connection` until the end of this turn of the event loop (Node's
 * cork, uncorked at setImmediate), so that the commands given meanwhile leave in one socket
 * write; ioredis matches the replies in order as before. Why: each write is a system call that
 * wakes Redis (~12 µs of the API's CPU per POST in a profile), and the POSTs answered in one turn
 * each enqueue. bench/api-throughput --only POST, five alternated pairs: CPU per POST 2-12 % lower
 * in the API and 3-13 % in Redis; req/s within the machine's noise. A write after the turn (a
 * command that waited for a reconnect) is sent as usual.
 */
export function sendAtEndOfTurn(connection: Redis): void {
  const socket = connection.stream;
  // Corked already: this turn's uncork is scheduled (ioredis itself never corks its socket).
  if (!socket || socket.writableCorked > 0) return;
  socket.cork();
  setImmediate(() => socket.uncork());
}

/** For Worker and QueueEvents: block and wait through outages. */
export function createWorkerConnection(config: RedisConfig): Redis {
  return connect(config.url, { maxRetriesPerRequest: null });
}

/**
 * A logged error (pino's `err` serializer output) without ioredis's `command`: ioredis hangs the
 * failed command with its arguments on its errors, and for a login Redis refused that is the
 * AUTH (or HELLO 3 AUTH) carrying the password of REDIS_URL. Also in the errors serialized inside
 * it (BullMQ passes ioredis's errors on as they are). Changes the serialized copy only.
 */
export function withoutRedisCommands<T>(serialized: T): T {
  if (!isSerializedError(serialized)) return serialized;
  delete serialized.command;
  for (const value of Object.values(serialized)) {
    if (Array.isArray(value)) value.forEach(withoutRedisCommands);
    else withoutRedisCommands(value);
  }
  return serialized;
}

/** What pino's error serializer makes of an error (`type`, `message`, `stack` and the error's own fields). */
function isSerializedError(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && "type" in value && "message" in value && "stack" in value;
}
