import { describe, expect, it } from "vitest";
import { ProcessExitError, ProcessRunner, ProcessStartError } from "./run.js";

const sh = (script: string, env: Record<string, string> = {}) => ({ command: "/bin/sh", args: ["-c", script], env });

describe("ProcessRunner", () => {
  it("resolves with the output tails on exit 0", async () => {
    const runner = new ProcessRunner();
    const result = await runner.start(sh("echo out; echo err >&2"), { stdout: "tail" }).done;
    expect(result).toEqual({ command: "sh", exitCode: 0, stderrTail: "err\n", stdoutTail: "out\n" });
    expect(runner.running).toBe(0);
  });

  it("gives the child only the environment it was given", async () => {
    const result = await new ProcessRunner().start({ command: "/usr/bin/env", args: [], env: { ONLY: "this" } }, { stdout: "tail" }).done;
    expect(result.stdoutTail).toBe("ONLY=this\n");
  });

  it("passes arguments verbatim, with no shell in between", async () => {
    const tricky = "$(echo injected); rm -rf / `x` 'q' \"d\"";
    const result = await new ProcessRunner().start({ command: "/bin/echo", args: [tricky], env: {} }, { stdout: "tail" }).done;
    expect(result.stdoutTail).toBe(`${tricky}\n`);
  });

  it("rejects with a ProcessExitError carrying the exit code and stderr tail", async () => {
    const error = await new ProcessRunner().start(sh("echo 'pg_dump: error: nope' >&2; exit 3"), { stdout: "tail" }).done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessExitError);
    expect(error).toMatchObject({ command: "sh", exitCode: 3, signal: null, stderrTail: "pg_dump: error: nope\n", message: "sh exited with code 3" });
  });

  it("rejects with a ProcessStartError when the executable is missing", async () => {
    const runner = new ProcessRunner();
    const error = await runner.start({ command: "/nonexistent/pg_dump", args: [], env: {} }, { stdout: "stream" }).done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessStartError);
    expect((error as Error).message).toContain("could not start pg_dump");
    expect(runner.running).toBe(0);
  });

  it("stops the child when the signal aborts", async () => {
    const runner = new ProcessRunner();
    const abort = new AbortController();
    const child = runner.start(sh("echo started; exec sleep 600"), { stdout: "stream", signal: abort.signal });
    child.stdout.once("data", () => abort.abort());
    const error = await child.done.catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: null, signal: "SIGTERM", message: "sh was killed by SIGTERM" });
    expect(runner.running).toBe(0);
  });

  it("kills everything still running on killAll", async () => {
    const runner = new ProcessRunner();
    const children = [runner.start(sh("exec sleep 600"), { stdout: "tail" }), runner.start(sh("exec sleep 600"), { stdout: "tail" })];
    expect(runner.running).toBe(2);
    runner.killAll();
    const errors = await Promise.all(children.map((child) => child.done.catch((e: unknown) => e)));
    expect(errors).toEqual([expect.objectContaining({ signal: "SIGKILL" }), expect.objectContaining({ signal: "SIGKILL" })]);
    expect(runner.running).toBe(0);
  });

  it("keeps only the last 64 KiB of a chatty stderr", async () => {
    const result = await new ProcessRunner().start(sh("head -c 300000 /dev/zero | tr '\\000' a >&2; echo END >&2"), { stdout: "tail" }).done;
    expect(result.stderrTail.length).toBe(64 * 1024);
    expect(result.stderrTail.endsWith("aEND\n")).toBe(true);
  });
});
