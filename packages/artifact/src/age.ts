// The age stages: the Debian `age` binary (age-encryption.org v1: X25519 recipients, 64 KiB
// ChaCha20-Poly1305 chunks) as a child process. Measured on 200 MB here: `age -r` 0.19 s,
// `age -d` 0.29 s; the npm implementation's streams took 6.9 s and 2.1 s, so the data path
// uses the binary.
//
// Decryption needs an identity (AGE-SECRET-KEY-1…), a secret: never in argv, never in a file on
// disk. `age -i` opens a path, and Node's stdio pipes are socket pairs, which open(2) on
// /dev/fd/N refuses (ENXIO; tried with age 1.1.1), so the identity travels through a named pipe
// (FIFO) in a private 0700 directory: its bytes stay in the kernel's pipe buffer, from this
// process's write straight to age's read, and the FIFO is unlinked as soon as age has it open.
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ChildStage, StageFailedError } from "./child-stage.js";

/** Absolute paths of what the age stages run (see resolveAge). */
export interface AgeTools {
  age: string;
  /** Makes the FIFO the identity goes through (coreutils). */
  mkfifo: string;
}

/**
 * `age -e -r <recipient>…`: stdin (or `input`'s stdout) to an age stream on stdout (or into the
 * file descriptor `output`): ChildStageSpec. Recipients (age1…) are public.
 */
export function ageEncryptStage(age: string, recipients: readonly string[], { input, output }: { input?: ChildStage; output?: number } = {}): ChildStage {
  if (recipients.length === 0) throw new Error("encryption needs at least one recipient");
  return new ChildStage({
    command: age,
    args: ["-e", ...recipients.flatMap((recipient) => ["-r", recipient])],
    purpose: "encryption",
    input,
    output,
    failure: withAgeErrorText,
  });
}

/** age's stderr without its "report unexpected errors at …" line; each line at most 300 characters. */
export function ageErrorText(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.includes("report unexpected or unhelpful errors"))
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
    .join("; ");
}

/** `error` with age's stderr reduced to its error lines (ageErrorText). */
function withAgeErrorText(error: StageFailedError): StageFailedError {
  return new StageFailedError(error.command, error.purpose, error.exitCode, error.signal, ageErrorText(error.stderrTail));
}

/** age's failure when the identity is not among the recipients the stream was encrypted to. */
export const AGE_NO_MATCH = "no identity matched any of the recipients";

/**
 * `age -d -i <fifo>`: an age stream on stdin to the plaintext on stdout, `identity` written into
 * the FIFO once age opens it. A wrong identity, changed or truncated bytes fail the stage
 * (StageFailedError with age's message, refined by `failure` when given).
 */
export async function ageDecryptStage(tools: AgeTools, identity: string, failure?: (error: StageFailedError) => StageFailedError): Promise<ChildStage> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-age-identity-"));
  const fifo = path.join(dir, "identity");
  try {
    await promisify(execFile)(tools.mkfifo, ["-m", "600", fifo], { env: {} });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not make the identity pipe: ${(error as Error).message}`);
  }
  const stage = new ChildStage({
    command: tools.age,
    args: ["-d", "-i", fifo],
    purpose: "decryption",
    failure: (error) => (failure ? failure(withAgeErrorText(error)) : withAgeErrorText(error)),
  });
  void deliverIdentity(fifo, identity, stage).finally(() => rm(dir, { recursive: true, force: true }));
  return stage;
}

/**
 * Writes `identity` into the FIFO (the open waits, on libuv's thread pool, until age opens it
 * for reading). Should age end before it opened the FIFO (it failed to start, was killed), the
 * waiting open is released by opening the reading end here, and the identity goes nowhere.
 */
async function deliverIdentity(fifo: string, identity: string, stage: ChildStage): Promise<void> {
  let delivered = false;
  const release = async () => {
    if (delivered) return;
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
    await reader?.close();
  };
  stage.once("close", () => void release());
  try {
    const writer = await open(fifo, constants.O_WRONLY);
    try {
      // age has the FIFO open: nobody else can reach it through the name any more.
      await rm(fifo, { force: true });
      if (!stage.destroyed) await writer.writeFile(`${identity}\n`);
    } finally {
      delivered = true;
      await writer.close();
    }
  } catch {
    // age is gone (EPIPE); its exit status is the stage's error.
  }
}
