import { describe, expect, it } from "vitest";
import { loadConfig } from "./env.js";

describe("loadConfig", () => {
  it("has a working local default for every setting", () => {
    expect(loadConfig({ CAPY_ENCRYPTION_KEY: "a".repeat(64) })).toEqual({
      databaseUrl: "postgresql://postgres:postgres@127.0.0.1:5432/capy",
      redis: { url: "redis://127.0.0.1:6379/0", prefix: "capy" },
      port: 3000,
      host: "0.0.0.0",
      storageDir: "./.data/storage",
      encryptionKey: "a".repeat(64),
      logLevel: "info",
      nodeEnv: "development",
    });
  });

  it("reads the environment and treats empty variables as unset", () => {
    const config = loadConfig({ REDIS_URL: "redis://cache:6380/4", PORT: "8080", CAPY_REDIS_PREFIX: "", LOG_LEVEL: "debug" });
    expect(config).toMatchObject({ redis: { url: "redis://cache:6380/4", prefix: "capy" }, port: 8080, logLevel: "debug" });
  });

  it("names every invalid variable", () => {
    expect(() => loadConfig({ PORT: "http", REDIS_URL: "http://x", CAPY_ENCRYPTION_KEY: "short" })).toThrow(
      /invalid configuration: .*REDIS_URL.*PORT.*CAPY_ENCRYPTION_KEY: must be 64 hex characters/,
    );
  });
});
