import { createLogger } from "./dist/logger.js";
import { Counter, Histogram, Registry } from "prom-client";
import { randomUUID } from "node:crypto";
const N = 200000;
function time(name, fn) { for (let i = 0; i < 20000; i++) fn(); const c = process.cpuUsage(); for (let i = 0; i < N; i++) fn(); const u = process.cpuUsage(c); console.log(`${name.padEnd(40)} ${((u.user + u.system) / N).toFixed(2)} µs`); }
const log = createLogger({ logLevel: "warn" });
time("pino child {reqId}", () => log.child({ reqId: "abc" }));
const registry = new Registry();
const requests = new Counter({ name: "a", help: "a", labelNames: ["method", "route", "status"], registers: [registry] });
const duration = new Histogram({ name: "b", help: "b", labelNames: ["route", "status"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
time("counter.inc + histogram.observe", () => { requests.inc({ method: "GET", route: "/healthz", status: "200" }); duration.observe({ route: "/healthz", status: "200" }, 0.0004); });
time("randomUUID", () => randomUUID());
