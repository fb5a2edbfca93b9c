// Streams a backup artifact to a file (or stdout) with a progress bar on a terminal. The file is
// written as <name>.part and renamed only when complete, so a failed download leaves no
// truncated archive behind under the final name.
import { createWriteStream } from "node:fs";
import { access, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CapyClient } from "@capy/sdk";
import cliProgress from "cli-progress";
import { CliError, EXIT } from "./errors.js";
import { humanBytes, type Output } from "./output.js";

export interface DownloadOptions {
  output?: string;
  force?: boolean;
  /** The stored bytes as they are (e.g. a .dump.zst.age; --raw or --stored) instead of the pg_restore archive. */
  stored?: boolean;
}

/** A server-suggested name reduced to a plain file name in the current directory. */
export function safeFilename(suggested: string | null, backupId: string): string {
  const base = suggested ? path.basename(suggested.replace(/\\/g, "/")) : "";
  return base && base !== "." && base !== ".." ? base : `${backupId}.dump`;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Returns the written path and byte count, or undefined when streamed to stdout. */
export async function downloadBackup(
  client: CapyClient,
  output: Output,
  projectId: string,
  backupId: string,
  options: DownloadOptions,
): Promise<{ path: string; bytes: number } | undefined> {
  if (options.output === "-" && process.stdout.isTTY) {
    throw new CliError("refusing to write a binary archive to a terminal: pass -o FILE, or pipe the output", EXIT.USAGE);
  }
  const download = await client.downloadBackup(projectId, backupId, { encoding: options.stored ? "stored" : "archive" });
  const body = Readable.fromWeb(download.body as Parameters<typeof Readable.fromWeb>[0]);
  // 0 when unknown in advance (an archive decompressed on the fly): no bar, no completeness check
  // by size (a failed stream is cut off by the server and fails the pipeline below).
  const total = download.sizeBytes ?? 0;

  if (options.output === "-") {
    await pipeline(body, process.stdout);
    return undefined;
  }
  const target = path.resolve(options.output ?? safeFilename(download.filename, backupId));
  if (!options.force && (await exists(target))) {
    body.destroy();
    throw new CliError(`${target} already exists; pass --force to overwrite or -o to choose another name`, EXIT.ERROR);
  }

  let bytes = 0;
  const bar =
    output.interactive && total > 0
      ? new cliProgress.SingleBar(
          { format: "downloading [{bar}] {percentage}% | {done} / {size} | eta {eta_formatted}", stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  if (bar) bar.start(total, 0, { done: humanBytes(0), size: humanBytes(total) });
  else output.err(`downloading ${backupId}${total > 0 ? ` (${humanBytes(total)})` : ""} to ${target}`);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      bar?.update(bytes, { done: humanBytes(bytes) });
      callback(null, chunk);
    },
  });

  const partial = `${target}.part`;
  try {
    await pipeline(body, counter, createWriteStream(partial));
    if (total > 0 && bytes !== total) {
      throw new CliError(`incomplete download: got ${bytes} of ${total} bytes; try again`, EXIT.ERROR);
    }
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    bar?.stop();
  }
  return { path: target, bytes };
}
