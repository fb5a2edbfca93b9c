// The chaos run (issue 5): bench/chaos.mjs runs the long form, e2e/chaos.test.ts the short one.

export { checkInvariants, checkOutbox, failedInvariants, formatInvariantTable, type InvariantResult, type InvariantRow } from "./invariants.js";
export { type Random, randomSeed, seededRandom } from "./random.js";
export { type CancelRecord, type ChaosOptions, type ChaosRun, type FinalEvent, type KillRecord, type PostRecord, type RestoreRecord, runChaos } from "./run.js";
export type { DumpObservation, JobTrace, OverlapEvent, SamplerReport } from "./sampler.js";
