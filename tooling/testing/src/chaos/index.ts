// The chaos run (issue 5): bench/chaos.mjs runs the long form, e2e/chaos.test.ts the short one.
export { runChaos, type ChaosOptions, type ChaosRun, type CancelRecord, type KillRecord, type PostRecord, type RestoreRecord, type FinalEvent } from "./run.js";
export { checkInvariants, checkOutbox, failedInvariants, formatInvariantTable, type InvariantRow, type InvariantResult } from "./invariants.js";
export { seededRandom, randomSeed, type Random } from "./random.js";
export type { SamplerReport, DumpObservation, OverlapEvent, JobTrace } from "./sampler.js";
