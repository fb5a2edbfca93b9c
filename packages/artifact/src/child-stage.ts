// A child process as one stage of a stream pipeline (e.g. `zstd -c`): bytes written to the stage
// go to the child's stdin, the child's stdout is the stage's readable side. Backpressure passes
// both ways, so memory stays flat. The readable side ends only once the child exited 0: a child
// that fails or is killed destroys the stage with StageFailedError, so a truncated output is
// never mistaken for a complete one. Destroying the stage (a failure elsewhere in the pipeline,
// a client gone) kills the child.
// A producer that is itself a child process (pg_dump) can write into the stage's child directly,
// pipe to pipe, instead of through this process (see directInput): on two cores, copying a
// 1.2 GB archive through Node costs ~2 s of CPU. Likewise a stage can read its input straight
// from the previous stage's child (spec.input: zstd's stdout is age's stdin): that previous
// stage's readable side then carries no data and only ends when its child exited 0; and the last
// stage can write straight into the file storage keeps (spec.output).
import { type ChildProcessByStdio, spawn } from "node:child_process";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { Duplex } from "node:stream";

/** Bytes of the child's stderr kept for the error message. */
const STDERR_TAIL_BYTES = 2_048;

export interface ChildStageSpec {
  /** Absolute path of the executable, run directly (never through a shell). */
  command: string;
  args: readonly string[];
  /** What the stage does, for messages: "compression", "decompression". */
  purpose: string;
  /**
   * A stage whose child's stdout becomes this child's stdin, pipe to pipe; nothing may then be
   * written to this stage (end it, or let a pipeline from `input` end it).
   */
  input?: ChildStage | undefined;
  /**
   * A file descriptor (e.g. the artifact's temporary file) the child writes its stdout into, not
   * through this process; the stage's readable side then carries no data and only ends once the
   * child exited 0.
   */
  output?: number | undefined;
  /** Refines the failure (e.g. age's "no identity matched" into a key error); identity by default. */
  failure?: ((error: StageFailedError) => StageFailedError) | undefined;
}

/** The child could not start, exited non-zero or was killed by a signal. */
export class StageFailedError extends Error {
  override readonly name: string = "StageFailedError";

  constructor(
    readonly command: string,
    readonly purpose: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    cause?: Error,
  ) {
    const how = cause ? `could not start: ${cause.message}` : exitCode === null ? `was killed by ${signal ?? "a signal"}` : `exited with code ${exitCode}`;
    super(`${purpose} failed: ${command} ${how}${stderrTail ? `: ${stderrTail}` : ""}`, cause ? { cause } : undefined);
  }
}

export class ChildStage extends Duplex {
  private readonly child: ChildProcessByStdio<Writable | null, Readable | null, Readable>;
  private stderr = "";
  private exited = false;
  /** The child's stdout goes to another stage's child, not through this process. */
  private handedOff = false;
  /** When the child exited (performance.now(), ms); Infinity until then. */
  private exitedAt = Number.POSITIVE_INFINITY;
  /** The child's failure once it closed, null when it exited 0. */
  private readonly outcome: Promise<StageFailedError | null>;

  constructor(spec: ChildStageSpec) {
    super();
    const command = path.basename(spec.command);
    const stdin = spec.input ? spec.input.handOffStdout() : "pipe";
    // No environment is passed on: the worker's and the API's hold secrets.
    this.child = spawn(spec.command, [...spec.args], { env: {}, stdio: [stdin, spec.output ?? "pipe", "pipe"], shell: false }) as ChildProcessByStdio<
      Writable | null,
      Readable | null,
      Readable
    >;
    // The child holds its own copy now; closing ours lets the producer see EPIPE if it dies.
    if (spec.input) (stdin as Readable).destroy();
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    this.child.stdout?.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) this.child.stdout?.pause();
    });
    // A child that died mid-write: its exit status (below) is the error that counts.
    this.child.stdin?.on("error", () => {});
    this.child.once("error", (error) => {
      if (this.child.pid === undefined) this.fail(new StageFailedError(command, spec.purpose, null, null, "", error));
    });
    const refine = spec.failure ?? ((failure) => failure);
    this.child.once("exit", () => {
      this.exitedAt = performance.now();
    });
    this.outcome = new Promise((settle) => {
      this.child.once("close", (code, signal) => {
        this.exited = true;
        const failure = code === 0 ? null : refine(new StageFailedError(command, spec.purpose, code, signal, this.stderr.trim()));
        settle(failure);
        if (failure === null) this.push(null);
        else if (spec.input && signal === null) void spec.input.failureBefore(this.exitedAt).then((cause) => this.fail(cause ?? failure));
        else this.fail(failure);
      });
    });
  }

  /**
   * The child's stdin, to be handed to a producer child process as its stdout (spawn's stdio).
   * Call releaseDirectInput() right after spawning that producer; nothing may then be written
   * to this stage.
   */
  directInput(): Writable {
    if (!this.child.stdin) throw new Error("this stage reads from another stage");
    return this.child.stdin;
  }

  /** Closes this process's end of the child's stdin: the child sees EOF when the producer exits. */
  releaseDirectInput(): void {
    this.child.stdin?.destroy();
    // The writable side will never be used; end it so the pipeline does not wait for it.
    this.end();
  }

  /** The child's pid (tests kill it to prove a failed stage fails the whole pipeline). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * This child's failure if it exited before `time` (performance.now(), ms), else null. A child
   * reading this one's stdout directly fails too when this one dies (input ended mid-stream:
   * age -d refusing a key leaves zstd -d an empty stream): the one that exited first is the cause.
   * A child that died first itself (zstd -d on corrupt input) makes this one fail later (EPIPE).
   */
  private async failureBefore(time: number): Promise<StageFailedError | null> {
    const failure = await this.outcome;
    return failure !== null && this.exitedAt <= time ? failure : null;
  }

  /**
   * Gives the child's stdout to the next stage's child (spawn's stdio); called by that stage's
   * constructor before anything was read from it (this child has had no input yet).
   */
  private handOffStdout(): Readable {
    const { stdout } = this.child;
    if (!stdout) throw new Error("this stage writes into a file");
    this.handedOff = true;
    stdout.removeAllListeners("data");
    stdout.pause();
    return stdout;
  }

  override _read(): void {
    if (!this.handedOff) this.child.stdout?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.child.stdin) {
      callback(new Error("this stage reads from another stage"));
      return;
    }
    // The callback fires once the pipe took the bytes: the writer waits for a slow child. A
    // write error (EPIPE: the child died) is not the cause; the child's exit status, reported
    // on 'close', is.
    this.child.stdin.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.child.stdin || this.child.stdin.destroyed) callback();
    else this.child.stdin.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.exited) this.child.kill("SIGKILL");
    callback(error);
  }

  private fail(error: StageFailedError): void {
    if (!this.destroyed) this.destroy(error);
  }
}
