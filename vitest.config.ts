import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["apps/*/src/**/*.test.ts", "packages/*/src/**/*.test.ts", "tooling/*/src/**/*.test.ts", "e2e/**/*.test.ts"],
    // Integration tests start real processes and run real pg_dump/pg_restore (ms).
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    // A worker process runs its test files one after another without reloading modules: each
    // file still gets its own database and Redis prefix, and restores the process state it
    // changes (spies, env). Isolated, every file imported the stack again: 135 s of imports
    // summed over the files of a run, 14 s shared (the whole suite 596 s before, 512 s after).
    isolate: false,
    // Tags the run and drops every database it created at the end (templates too).
    globalSetup: ["./tooling/testing/dist/global-setup.js"],
    // Two cores here: two test files at a time keeps pg_dump and the services from starving.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
