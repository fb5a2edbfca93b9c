// What the end-to-end tests share: JSON requests to a running API with a key, and polling a job
// to a terminal state.
import { Job } from "@capy/contracts";
import { waitFor } from "@capy/testing";

/** `baseUrl` is read on each call, so it can name an API started later (in beforeAll). */
export function e2eApi(baseUrl: () => string) {
  async function api(key: string, method: string, route: string, body?: unknown) {
    const response = await fetch(`${baseUrl()}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  /** Polls GET /v1/jobs/{id} until the job is completed, failed or canceled (2 min deadline). */
  async function pollJob(key: string, jobId: string): Promise<Job> {
    return waitFor(
      async () => {
        const job = Job.parse((await api(key, "GET", `/v1/jobs/${jobId}`)).body.job);
        return ["completed", "failed", "canceled"].includes(job.state) ? job : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `job ${jobId} to finish` },
    );
  }
  return { api, pollJob };
}
