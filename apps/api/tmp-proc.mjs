import { procedures, callProcedure } from "./dist/procedures.js";
const p = procedures.get(process.argv[2] ?? "me.get");
const principal = { source: "api_key", keyId: "key_x", userId: null, role: null, organizationId: "org_x", projectId: "prj_x", scopes: ["backups:read", "jobs:read"] };
const ctx = { db: {}, tenancy: {}, queue: {}, scheduleQueue: {}, storage: {}, log: {}, headers: {}, authenticate: async () => principal, config: {}, webhooks: {} };
const N = 50000;
const callOld = (input) => p({ ctx, path: "me.get", type: "query", getRawInput: async () => input, signal: undefined, batchIndex: 0 });
for (const [name, f] of [["tRPC walker", callOld], ["own walker", (i) => callProcedure(p, "me.get", ctx, i)], ["tRPC walker", callOld], ["own walker", (i) => callProcedure(p, "me.get", ctx, i)]]) {
  for (let i = 0; i < 5000; i++) await f({});
  const c = process.cpuUsage();
  for (let i = 0; i < N; i++) await f({});
  const u = process.cpuUsage(c);
  console.log(name, ((u.user + u.system) / N).toFixed(2), "µs");
}
