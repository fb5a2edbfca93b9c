import os from "node:os";
import { keyId } from "@capy/db";
import { describe, expect, it } from "vitest";
import { loadWorkerEnv } from "./env.js";

describe("loadWorkerEnv", () => {
  it("has a working local default for everything", () => {
    const env = loadWorkerEnv({});
    expect(env.PG_BIN_DIR).toBeUndefined();
    expect(env).toMatchObject({
      DATABASE_URL: "postgresql://postgres:postgres@127.0.0.1:5432/capy",
      REDIS_URL: "redis://127.0.0.1:6379/0",
      CAPY_REDIS_PREFIX: "capy",
      STORAGE_DIR: "./.data/storage",
      WORKER_ID: `${os.hostname()}:${process.pid}`,
      WORKER_CONCURRENCY: 2,
      LOG_LEVEL: "info",
      WORKER_SHUTDOWN_GRACE_MS: 30_000,
      WORKER_HEARTBEAT_INTERVAL_MS: 5_000,
      VERIFY_TEMPLATE_DATABASE: "template0",
      VERIFY_TIMEOUT_MS: 7_200_000,
      VERIFY_CONCURRENCY: 2,
      VERIFY_JANITOR_INTERVAL_MS: 600_000,
      VERIFY_JANITOR_MARGIN_MS: 300_000,
      VERIFY_DATABASE_PREFIX: "capy_verify",
    });
  });

  it("reads and coerces what is set, treating empty values as unset", () => {
    const key = "ab".repeat(32);
    const env = loadWorkerEnv({ WORKER_CONCURRENCY: "5", WORKER_SHUTDOWN_GRACE_MS: "0", CAPY_ENCRYPTION_KEY: key, PG_BIN_DIR: "", WORKER_ID: "w1" });
    expect(env).toMatchObject({ WORKER_CONCURRENCY: 5, WORKER_SHUTDOWN_GRACE_MS: 0, CAPY_ENCRYPTION_KEY: key, WORKER_ID: "w1" });
    expect(env.PG_BIN_DIR).toBeUndefined();
  });

  it("rejects invalid settings, naming each one", () => {
    const load = () => loadWorkerEnv({ WORKER_CONCURRENCY: "zero", CAPY_ENCRYPTION_KEY: "short", REDIS_URL: "http://x" });
    expect(load).toThrow(/^invalid worker configuration: /);
    expect(load).toThrow(/WORKER_CONCURRENCY: /);
    expect(load).toThrow(/CAPY_ENCRYPTION_KEY: must be 64 hex characters/);
    expect(load).toThrow(/REDIS_URL: /);
  });
});

describe("keyring", () => {
  it("is built from CAPY_ENCRYPTION_KEY and CAPY_ENCRYPTION_KEYS_OLD, naming the variable at fault", () => {
    const [current, old] = ["c".repeat(64), "d".repeat(64)];
    expect(loadWorkerEnv({ CAPY_ENCRYPTION_KEY: current, CAPY_ENCRYPTION_KEYS_OLD: old }).keyring?.keyIds).toEqual([keyId(current), keyId(old)]);
    expect(() => loadWorkerEnv({ CAPY_ENCRYPTION_KEY: current, CAPY_ENCRYPTION_KEYS_OLD: "d" })).toThrow(
      "invalid worker configuration: CAPY_ENCRYPTION_KEYS_OLD: key 1 is not 64 hex characters",
    );
  });
});

describe("compression", () => {
  it("defaults to zstd:1 and parses the others", () => {
    expect(loadWorkerEnv({}).BACKUP_COMPRESSION).toEqual({ algorithm: "zstd", level: 1 });
    expect(loadWorkerEnv({ BACKUP_COMPRESSION: "gzip:6" }).BACKUP_COMPRESSION).toEqual({ algorithm: "gzip", level: 6 });
    expect(loadWorkerEnv({ BACKUP_COMPRESSION: "none" }).BACKUP_COMPRESSION).toEqual({ algorithm: "none", level: null });
    expect(() => loadWorkerEnv({ BACKUP_COMPRESSION: "zstd:42" })).toThrow(/BACKUP_COMPRESSION: invalid compression "zstd:42": zstd levels are 1-19/);
  });
});

describe("encryption", () => {
  it("defaults to age, takes none, and names what it accepts otherwise", () => {
    expect(loadWorkerEnv({}).BACKUP_ENCRYPTION).toBe("age");
    expect(loadWorkerEnv({ BACKUP_ENCRYPTION: "none" }).BACKUP_ENCRYPTION).toBe("none");
    expect(() => loadWorkerEnv({ BACKUP_ENCRYPTION: "gpg" })).toThrow(/BACKUP_ENCRYPTION: invalid encryption "gpg": expected age or none/);
  });
});

describe("verification settings", () => {
  it("refuses a throwaway-database prefix that would need quoting or hide other databases", () => {
    expect(() => loadWorkerEnv({ VERIFY_DATABASE_PREFIX: "Capy-Verify" })).toThrow(/VERIFY_DATABASE_PREFIX: /);
    expect(loadWorkerEnv({ VERIFY_DATABASE_PREFIX: "capy_vt1" }).VERIFY_DATABASE_PREFIX).toBe("capy_vt1");
  });

  it("has issue 5's fault settings, with their defaults", () => {
    expect(loadWorkerEnv({})).toMatchObject({
      DUMP_CONCURRENCY_PER_CLUSTER: 2,
      DUMP_TIMEOUT_MS: 21_600_000,
      WORKER_LOCK_DURATION_MS: 30_000,
      WORKER_STALLED_INTERVAL_MS: 30_000,
    });
    expect(
      loadWorkerEnv({ DUMP_CONCURRENCY_PER_CLUSTER: "1", DUMP_TIMEOUT_MS: "500", WORKER_LOCK_DURATION_MS: "2000", WORKER_STALLED_INTERVAL_MS: "1000" }),
    ).toMatchObject({
      DUMP_CONCURRENCY_PER_CLUSTER: 1,
      DUMP_TIMEOUT_MS: 500,
      WORKER_LOCK_DURATION_MS: 2_000,
      WORKER_STALLED_INTERVAL_MS: 1_000,
    });
    expect(() => loadWorkerEnv({ DUMP_CONCURRENCY_PER_CLUSTER: "0" })).toThrow(/DUMP_CONCURRENCY_PER_CLUSTER/);
  });
});

describe("webhook settings", () => {
  it("default to production-safe values", () => {
    expect(loadWorkerEnv({})).toMatchObject({
      WEBHOOK_ALLOW_INSECURE: "0",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "0",
      WEBHOOK_CONCURRENCY: 20,
      WEBHOOK_RETRY_BASE_MS: 60_000,
      WEBHOOK_RETRY_MAX_MS: 43_200_000,
      WEBHOOK_DISABLE_AFTER_MS: 259_200_000,
      WEBHOOK_FANOUT_INTERVAL_MS: 1_000,
      WEBHOOK_RECONCILE_INTERVAL_MS: 30_000,
    });
    expect(() => loadWorkerEnv({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "yes" })).toThrow(/WEBHOOK_ALLOW_PRIVATE_TARGETS/);
  });
});
