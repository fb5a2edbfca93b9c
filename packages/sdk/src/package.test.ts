// The SDK as a stranger gets it: `pnpm pack`, installed with npm into a fresh project in a temp
// directory outside the workspace, compiled with strict and skipLibCheck: false (so every
// declaration it ships, and every one those pull in, must stand alone), then run against a
// real API and worker: a backup created and polled to completed.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPgbenchDatabase, createTestStack, run, type TestDatabase, type TestStack } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SDK_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The consumer: typed calls only, no casts; the result printed as JSON. */
const CONSUMER = `
import { createCapyClient, describeError, type Backup, type Job } from "@capy/sdk";

const [baseUrl, apiKey, projectId] = process.argv.slice(2) as [string, string, string];
const capy = createCapyClient({ baseUrl, apiKey });
const { job } = await capy.backups.create.mutate({ id: projectId, label: "from a stranger" });
let current: Job = job;
const deadline = Date.now() + 120_000;
while (!["completed", "failed", "canceled"].includes(current.state) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 250));
  ({ job: current } = await capy.jobs.get.query({ jobID: job.id }));
}
const backups: Backup[] = (await capy.backups.list.query({ id: projectId })).backups;
const refused = await createCapyClient({ baseUrl, apiKey: "capy_live_wrong" }).me.get.query({}).catch(describeError);
console.log(JSON.stringify({ state: current.state, error: current.error, labels: backups.map((b) => b.label), refused }));
`;

const TSCONFIG = {
  compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false, outDir: "dist", types: ["node"] },
  include: ["index.ts"],
};

let stack: TestStack;
let source: TestDatabase;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-sdk-consumer-"));
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(1)]);
  await Promise.all([stack.startApi(), stack.startWorker()]);
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([source?.drop(), dir && rm(dir, { recursive: true, force: true })]);
});

describe("the packed SDK", () => {
  it("installs outside the workspace, compiles strictly and backs up against a running server", async () => {
    await run("pnpm", ["pack", "--pack-destination", dir], process.env, SDK_DIR);
    const tarball = (await readdir(dir)).find((name) => name.endsWith(".tgz"))!;
    await writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "stranger", private: true, type: "module" }));
    await writeFile(path.join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));
    await writeFile(path.join(dir, "index.ts"), CONSUMER);
    // A stranger's tools: npm, TypeScript and Node types from the registry (cached after the first run).
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`, "typescript@5.9.3", "@types/node@20"], process.env, dir);
    await run(path.join(dir, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], process.env, dir);

    const tenant = await stack.createTenant("stranger-org", "stranger-project", source.url);
    const { stdout } = await run(process.execPath, ["dist/index.js", stack.api!.baseUrl, tenant.api_key, tenant.project_id], process.env, dir);
    expect(JSON.parse(stdout)).toEqual({
      state: "completed",
      error: null,
      labels: ["from a stranger"],
      refused: { status: 401, message: "invalid API key", retryAfterSeconds: null },
    });
  });
});
