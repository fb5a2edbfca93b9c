// The zstd stages: the Debian `zstd` binary as a child process (Node 20's zlib has no zstd).
import { ChildStage } from "./child-stage.js";

/** Compression threads per backup: pg_dump produces ~180 MB/s here, which two zstd -1 threads outpace. */
export const ZSTD_THREADS = 2;

/** `zstd -<level> -T2`: stdin to stdout; -v for the summary line read by zstdInputBytes. */
export function zstdCompressStage(zstd: string, level: number): ChildStage {
  return new ChildStage({ command: zstd, args: ["-v", "-c", `-${level}`, `-T${ZSTD_THREADS}`], purpose: "compression" });
}

/**
 * The uncompressed bytes a finished `zstd -v` read, from its summary line
 * (`/*stdin*\ : 15.55%   (1189451532 B => 184961288 B, /*stdout*\)`, zstd 1.5 with stderr not a
 * terminal); null when the line is not there in that form (another zstd version).
 */
export function zstdInputBytes(stderr: string): number | null {
  const match = /\((\d+) B => \d+ B,/.exec(stderr);
  return match ? Number(match[1]) : null;
}

/** `zstd -d`: a zstd stream on stdin to the original bytes on stdout; corrupt input fails it. */
export function zstdDecompressStage(zstd: string): ChildStage {
  return new ChildStage({ command: zstd, args: ["-q", "-d", "-c"], purpose: "decompression" });
}
