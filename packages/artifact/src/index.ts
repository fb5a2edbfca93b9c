export { type AgeTools, ageDecryptStage, ageEncryptStage } from "./age.js";
export { ChildStage, type ChildStageSpec, StageFailedError } from "./child-stage.js";
export { ArtifactKeyError, ArtifactKeyMismatchError, type DecryptOptions, type IdentityLookup } from "./decrypt.js";
export {
  type ArchiveFormat,
  type ArtifactEncoding,
  type Compression,
  type CompressionSetting,
  type Encryption,
  type EncryptionSetting,
  formatCompressionSetting,
  parseCompressionSetting,
  parseEncryptionSetting,
  type StoredEncoding,
} from "./encoding.js";
export { findExecutable, pathDirs, resolveAge, resolveZstd } from "./executables.js";
export {
  ArtifactChecksumError,
  checkStored,
  decodingFailureMessage,
  type OpenedArtifact,
  type OpenOptions,
  openArtifact,
  type ReadAs,
  type StoredArtifact,
} from "./read.js";
export { encryptingPlan, type WritePlan, type WriterTools, type WriteStages, writePlan } from "./write.js";
