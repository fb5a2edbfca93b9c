export { ChildStage, type ChildStageSpec, StageFailedError } from "./child-stage.js";
export {
  type ArchiveFormat,
  type ArtifactEncoding,
  type Compression,
  type CompressionSetting,
  formatCompressionSetting,
  parseCompressionSetting,
  type StoredEncoding,
} from "./encoding.js";
export { findExecutable, pathDirs, resolveZstd } from "./executables.js";
export { ArtifactChecksumError, checkStored, type OpenedArtifact, type OpenOptions, openArtifact, type ReadAs, type StoredArtifact } from "./read.js";
export { NATIVE_ZSTD_PG_DUMP_MAJOR, type WritePlan, type WriterTools, type WriteStages, writePlan } from "./write.js";
export { ZSTD_THREADS, zstdCompressStage, zstdDecompressStage } from "./zstd.js";
