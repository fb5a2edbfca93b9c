// The zstd stages: the Debian `zstd` binary as a child process (Node 20's zlib has no zstd).
import { ChildStage } from "./child-stage.js";

/** Compression threads per backup: pg_dump produces ~180 MB/s here, which two zstd -1 threads outpace. */
export const ZSTD_THREADS = 2;

/** `zstd -<level> -T2`: stdin to stdout (or into the file descriptor `output`: ChildStageSpec), quiet. */
export function zstdCompressStage(zstd: string, level: number, output?: number): ChildStage {
  return new ChildStage({ command: zstd, args: ["-q", "-c", `-${level}`, `-T${ZSTD_THREADS}`], purpose: "compression", output });
}

/**
 * `zstd -d`: a zstd stream on stdin to the original bytes on stdout, or, with `outputFile`, into
 * that new file (zstd refuses an existing one, and removes what it wrote when it fails), its
 * stdout then empty; corrupt input fails it. With `input` (age -d), zstd reads that child's
 * stdout directly, pipe to pipe (ChildStage), not through this process.
 */
export function zstdDecompressStage(zstd: string, outputFile?: string, input?: ChildStage): ChildStage {
  const output = outputFile === undefined ? ["-c"] : ["-o", outputFile];
  return new ChildStage({ command: zstd, args: ["-q", "-d", ...output], purpose: "decompression", input });
}
