export {
  formatCompressionSetting,
  parseCompressionSetting,
  type ArchiveFormat,
  type ArtifactEncoding,
  type Compression,
  type CompressionSetting,
  type StoredEncoding,
} from "./encoding.js";
export { ChildStage, StageFailedError, type ChildStageSpec } from "./child-stage.js";
export { findExecutable, pathDirs, resolveZstd } from "./executables.js";
export { ZSTD_THREADS, zstdCompressStage, zstdDecompressStage } from "./zstd.js";
export { NATIVE_ZSTD_PG_DUMP_MAJOR, writePlan, type WritePlan, type WriteStages, type WriterTools } from "./write.js";
export { ArtifactChecksumError, checkStored, openArtifact, type OpenOptions, type OpenedArtifact, type ReadAs, type StoredArtifact } from "./read.js";
