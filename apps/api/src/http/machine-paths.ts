// Paths answered for the platform's machines, not its users: the orchestrator's probes and the
// Prometheus scraper. They carry no tenant's request and come every few seconds from every
// prober, so they skip the rate limits (rate-limit.ts) and the request log (their routes log at
// warn), and the request metrics do not count them (metrics.ts): the orchestrator and Prometheus
// (`up`, `scrape_duration_seconds`) keep their own record of them.

export const LIVENESS_PATH = "/healthz";
export const READINESS_PATH = "/readyz";
export const METRICS_PATH = "/metrics";

export const MACHINE_PATHS: ReadonlySet<string> = new Set([LIVENESS_PATH, READINESS_PATH, METRICS_PATH]);
