// Child processes (pg_dump, later pg_restore): an argument array and an explicit environment,
// never a shell; bounded tails of their output; typed errors for "could not start" and "exited
// badly"; and a registry so shutdown can stop whatever is still running.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { TailBuffer } from "./tail-buffer.js";

export interface ProcessSpec {
  /** Path of the executable; it is executed directly, never through a shell. */
  command: string;
  args: readonly string[];
  /** What errors call the process (default: the executable's base name), e.g. pg_dump run through stdbuf. */
  name?: string;
  /** The child's whole environment: nothing is inherited from the worker (which holds secrets). */
  env: Readonly<Record<string, string>>;
}

export interface StartOptions {
  /**
   * "stream": the caller consumes `stdout` (e.g. a binary archive) and no tail is kept.
   * "tail": stdout is text; it is drained and its tail kept like stderr's.
   * { into }: stdout is that pipe (another child's stdin) or file descriptor (a file storage
   * keeps), written by the child directly; the handle's `stdout` is then empty.
   */
  stdout: "stream" | "tail" | { into: Writable | number };
  /** "pipe": the caller writes the child's stdin (e.g. an archive for pg_restore); ignored otherwise. */
  stdin?: "pipe" | "ignore";
  /** Aborting stops the child (SIGTERM, then SIGKILL after KILL_GRACE_MS). */
  signal?: AbortSignal;
}

export interface ProcessResult {
  command: string;
  exitCode: 0;
  stderrTail: string;
  /** null when stdout was streamed to the caller rather than kept. */
  stdoutTail: string | null;
}

/** The executable could not be started at all (missing, not executable, …). */
export class ProcessStartError extends Error {
  override readonly name = "ProcessStartError";

  constructor(
    readonly command: string,
    cause: Error,
  ) {
    super(`could not start ${command}: ${cause.message}`, { cause });
  }
}

/** The child ran and exited with a non-zero code or was killed by a signal. */
export class ProcessExitError extends Error {
  override readonly name = "ProcessExitError";

  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    readonly stdoutTail: string | null,
  ) {
    super(exitCode === null ? `${command} was killed by ${signal ?? "a signal"}` : `${command} exited with code ${exitCode}`);
  }
}

export interface RunningProcess {
  readonly pid: number | undefined;
  /** The child's stdin, for callers that started it with stdin: "pipe"; null otherwise. */
  readonly stdin: Writable | null;
  /** The child's stdout, for callers that started it with stdout: "stream". */
  readonly stdout: Readable;
  /**
   * Settles once the child has exited and its output is drained: resolves on exit code 0,
   * rejects with ProcessExitError or ProcessStartError otherwise.
   */
  readonly done: Promise<ProcessResult>;
  /** SIGTERM now, SIGKILL if it is still alive KILL_GRACE_MS later. Safe to call repeatedly. */
  stop(): void;
  /** SIGKILL now. */
  kill(): void;
}

/** Between SIGTERM and SIGKILL when stopping a child (ms). */
export const KILL_GRACE_MS = 5_000;

export class ProcessRunner {
  private readonly live = new Set<RunningProcess>();

  /** Children started by this runner that have not finished yet. */
  get running(): number {
    return this.live.size;
  }

  start(spec: ProcessSpec, options: StartOptions): RunningProcess {
    const command = spec.name ?? path.basename(spec.command);
    const child = spawn(spec.command, [...spec.args], {
      env: { ...spec.env },
      stdio: [options.stdin ?? "ignore", typeof options.stdout === "object" ? options.stdout.into : "pipe", "pipe"],
      shell: false,
    }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    const stderr = new TailBuffer();
    const stdout = options.stdout === "tail" ? new TailBuffer() : null;
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    if (stdout) child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));

    let killTimer: NodeJS.Timeout | undefined;
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const kill = () => {
      if (!exited()) child.kill("SIGKILL");
    };
    const stop = () => {
      if (exited() || killTimer) return;
      child.kill("SIGTERM");
      killTimer = setTimeout(kill, KILL_GRACE_MS);
      killTimer.unref();
    };

    const done = new Promise<ProcessResult>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(killTimer);
        options.signal?.removeEventListener("abort", stop);
        this.live.delete(handle);
        outcome();
      };
      // 'error' without a pid means the spawn itself failed; later errors (a failed kill) are
      // followed by 'close' anyway.
      child.once("error", (error) => {
        if (child.pid === undefined) settle(() => reject(new ProcessStartError(command, error)));
      });
      child.once("close", (code, signal) => {
        if (child.pid === undefined) return;
        settle(() =>
          code === 0
            ? resolve({ command, exitCode: 0, stderrTail: stderr.toString(), stdoutTail: stdout?.toString() ?? null })
            : reject(new ProcessExitError(command, code, signal, stderr.toString(), stdout?.toString() ?? null)),
        );
      });
    });

    const handle: RunningProcess = { pid: child.pid, stdin: child.stdin, stdout: child.stdout ?? Readable.from([]), done, stop, kill };
    this.live.add(handle);
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    return handle;
  }

  /** Kills every running child at once: the last step before the process exits. */
  killAll(): void {
    for (const child of this.live) child.kill();
  }
}
