import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createShutdown, type ShutdownSteps } from "./shutdown.js";

const log = pino({ level: "silent" });

/** Steps that record their order; `drain` settles when `finishJobs` is called. */
function fakeSteps() {
  const calls: string[] = [];
  let finishJobs = () => {};
  const drained = new Promise<void>((resolve) => (finishJobs = resolve));
  const steps: ShutdownSteps = {
    drain: () => {
      calls.push("drain");
      return drained;
    },
    interrupt: () => calls.push("interrupt"),
    killChildren: () => calls.push("killChildren"),
    release: async () => {
      calls.push("release");
    },
  };
  return { steps, calls, finishJobs: () => finishJobs() };
}

describe("createShutdown", () => {
  it("lets running jobs finish within the grace period, then closes and exits 0", async () => {
    const { steps, calls, finishJobs } = fakeSteps();
    const exits: number[] = [];
    const shutdown = createShutdown(steps, { graceMs: 60_000, log, exit: (code) => exits.push(code) });
    const done = shutdown.begin("SIGTERM");
    finishJobs();
    await done;
    expect(calls).toEqual(["drain", "killChildren", "release"]);
    expect(exits).toEqual([0]);
  });

  it("stops running jobs once the grace period is over", async () => {
    const { steps, calls, finishJobs } = fakeSteps();
    const exits: number[] = [];
    const interrupt = () => {
      steps.interrupt();
      finishJobs();
    };
    const shutdown = createShutdown({ ...steps, interrupt }, { graceMs: 10, log, exit: (code) => exits.push(code) });
    await shutdown.begin("SIGTERM");
    expect(calls).toEqual(["drain", "interrupt", "killChildren", "release"]);
    expect(exits).toEqual([0]);
  });

  it("exits 1 when interrupted jobs still do not stop", async () => {
    const { steps, calls } = fakeSteps();
    const exits: number[] = [];
    const shutdown = createShutdown(steps, { graceMs: 10, interruptWaitMs: 10, log, exit: (code) => exits.push(code) });
    await shutdown.begin("SIGTERM");
    expect(calls).toEqual(["drain", "interrupt", "killChildren", "release"]);
    expect(exits).toEqual([1]);
  });

  it("skips the rest of the grace period on a second signal", async () => {
    const { steps, calls, finishJobs } = fakeSteps();
    const exits: number[] = [];
    const interrupt = () => {
      steps.interrupt();
      finishJobs();
    };
    const shutdown = createShutdown({ ...steps, interrupt }, { graceMs: 60_000, log, exit: (code) => exits.push(code) });
    const first = shutdown.begin("SIGTERM");
    const second = shutdown.begin("SIGINT");
    await Promise.all([first, second]);
    expect(calls).toEqual(["drain", "interrupt", "killChildren", "release"]);
    expect(exits).toEqual([0]);
  });
});
