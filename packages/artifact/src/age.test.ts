// The age stages against the real age and zstd binaries and a real filesystem store: an
// encrypting plan's stored bytes are an age stream (no archive magic, no table name), the one
// reader decrypts them with the platform identity and the standard `age -d` with a customer's,
// and every way the key or the bytes can be wrong fails with a message that says which.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FilesystemStorage } from "@capy/storage";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArtifactChecksumError,
  ArtifactKeyError,
  ArtifactKeyMismatchError,
  ageDecryptStage,
  ageEncryptStage,
  type ChildStage,
  checkStored,
  encryptingPlan,
  openArtifact,
  parseCompressionSetting,
  parseEncryptionSetting,
  resolveAge,
  resolveZstd,
  StageFailedError,
  type StoredArtifact,
  writePlan,
} from "./index.js";

const zstd = resolveZstd(process.env.PATH ?? "");
const age = resolveAge(process.env.PATH ?? "");
let dir: string;
let storage: FilesystemStorage;

/** An X25519 identity and its recipient, made by the standard tool. */
function keyPair(): { identity: string; recipient: string } {
  const out = spawnSync("age-keygen", [], { encoding: "utf8" });
  const identity = out.stdout.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"));
  const recipient = /Public key: (age1\S+)/.exec(out.stderr)?.[1];
  if (!identity || !recipient) throw new Error(`age-keygen: ${out.stderr}`);
  return { identity, recipient };
}

const platform = keyPair();
const customer = keyPair();
const stranger = keyPair();
const archive = Buffer.from(`PGDMP${"CREATE TABLE public.secret_orders_table (id int); ".repeat(4000)}`);
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-age-test-"));
  storage = new FilesystemStorage(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `bytes` through the plan's stages as pg_dump's stdout would (here written by this process). */
async function encode(setting: string, bytes: Buffer, recipients: string[], onStages?: (stages: ChildStage[]) => void): Promise<Buffer> {
  const plan = encryptingPlan(writePlan(parseCompressionSetting(setting), { pgDumpMajor: 15, zstd }), age.age);
  const write = plan.start(recipients);
  onStages?.(write.stages as ChildStage[]);
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => done(null, chunks.push(chunk)) });
  await pipeline([Readable.from([bytes]), ...write.stages, sink]);
  return Buffer.concat(chunks);
}

async function store(key: string, bytes: Buffer, storedEncoding: string, sizeBytes = bytes.length): Promise<StoredArtifact> {
  await storage.put(key, Readable.from([bytes]));
  return {
    backupKey: key,
    sha256: sha256(bytes),
    sizeBytes,
    archiveSizeBytes: archive.length,
    storedEncoding,
    encryption: "age",
    encryptionKeyId: "key_platform",
  };
}

const lookup = (identity: string | null) => async () => identity;
const readAll = async (body: Readable) => Buffer.concat(await body.toArray());

describe("BACKUP_ENCRYPTION", () => {
  it("accepts age and none, and names them otherwise", () => {
    expect(parseEncryptionSetting("age")).toBe("age");
    expect(parseEncryptionSetting("none")).toBe("none");
    expect(() => parseEncryptionSetting("aes")).toThrow('invalid encryption "aes": expected age or none');
  });
});

describe("encrypted artifacts", () => {
  let stored: Buffer;
  let artifact: StoredArtifact;

  beforeAll(async () => {
    stored = await encode("zstd:1", archive, [platform.recipient, customer.recipient]);
    artifact = await store("e/zstd.dump", stored, "zstd");
  });

  it("stores an age stream: no archive magic, no table name", () => {
    expect(stored.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(stored.includes("PGDMP")).toBe(false);
    expect(stored.includes("secret_orders_table")).toBe(false);
  });

  it("reads back as the archive with the platform identity, and as stored bytes age -d opens with the customer's", async () => {
    const opened = await openArtifact(storage, artifact, { as: "archive", zstd, age, identity: lookup(platform.identity) });
    expect(opened).toMatchObject({ encoding: "identity", encryption: null, sizeBytes: archive.length });
    expect((await readAll(opened.body)).equals(archive)).toBe(true);
    const raw = await openArtifact(storage, artifact, { as: "stored", zstd });
    expect(raw).toMatchObject({ encoding: "zstd", encryption: "age", sizeBytes: stored.length });
    const file = path.join(dir, "key.txt");
    await writeFile(file, `${customer.identity}\n`, { mode: 0o600 });
    const decrypted = spawnSync("age", ["-d", "-i", file], { input: await readAll(raw.body) });
    expect(decrypted.status).toBe(0);
    expect(spawnSync(zstd, ["-d", "-c"], { input: decrypted.stdout }).stdout.equals(archive)).toBe(true);
  });

  it("encrypts a plain (gzip-inside) archive with pg_dump writing straight into age", async () => {
    const plain = await encode("gzip:6", archive, [platform.recipient]);
    const opened = await openArtifact(storage, await store("e/gzip.dump", plain, "identity"), {
      as: "archive",
      zstd,
      age,
      identity: lookup(platform.identity),
    });
    expect((await readAll(opened.body)).equals(archive)).toBe(true);
  });

  it("names the key when it is not among the recipients, gone, unopenable or not recorded", async () => {
    const wrong = await openArtifact(storage, artifact, { as: "archive", zstd, age, identity: lookup(stranger.identity) });
    const mismatch = await readAll(wrong.body).catch((error: unknown) => error);
    expect(mismatch).toBeInstanceOf(ArtifactKeyMismatchError);
    expect((mismatch as Error).message).toBe(
      "artifact is encrypted to key key_platform which does not match any of its recipients (age: no identity matched any of the recipients)",
    );
    await expect(openArtifact(storage, artifact, { as: "archive", zstd, age, identity: lookup(null) })).rejects.toThrow(
      new ArtifactKeyError("key_platform", "artifact is encrypted to key key_platform which no longer exists"),
    );
    const failing = async () => {
      throw new Error("no key of the keyring opens it");
    };
    await expect(openArtifact(storage, artifact, { as: "archive", zstd, age, identity: failing })).rejects.toThrow(
      "artifact is encrypted to key key_platform which cannot be opened: no key of the keyring opens it",
    );
    await expect(openArtifact(storage, { ...artifact, encryptionKeyId: null }, { as: "archive", zstd, age, identity: failing })).rejects.toThrow(
      "artifact e/zstd.dump is encrypted (age) but its backup records no encryption key",
    );
  });

  it("fails a flipped byte (age's authentication, the checksum) and a truncated object (the checksum, saying so)", async () => {
    // Incompressible, so that age reads the changed chunk long before the stored object's end.
    const large = await encode("zstd:1", randomBytes(4 * 1024 * 1024), [platform.recipient]);
    const original = await store("e/large.dump", large, "zstd");
    const flipped = Buffer.from(large);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await storage.put("e/flipped.dump", Readable.from([flipped]));
    const changed = { ...original, backupKey: "e/flipped.dump" };
    const opened = await openArtifact(storage, changed, { as: "archive", zstd, age, identity: lookup(platform.identity) });
    const error = await readAll(opened.body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as Error).message).toBe("decryption failed: age exited with code 1: age: error: failed to decrypt and authenticate payload chunk");
    await expect(checkStored(storage, changed)).rejects.toThrow(
      `artifact checksum mismatch: expected ${original.sha256}, stored object hashes to ${sha256(flipped)}`,
    );
    const truncated = stored.subarray(0, stored.length - 100);
    await storage.put("e/truncated.dump", Readable.from([truncated]));
    const short = await openArtifact(
      storage,
      { ...artifact, backupKey: "e/truncated.dump" },
      { as: "archive", zstd, age, identity: lookup(platform.identity) },
    );
    const shortError = await readAll(short.body).catch((e: unknown) => e);
    expect(shortError).toBeInstanceOf(ArtifactChecksumError);
    expect((shortError as Error).message).toMatch(new RegExp(`\\(${truncated.length} bytes, ${stored.length} recorded: truncated\\)$`));
  });

  it("fails the write when the age child is killed", async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    const error = await encode("zstd:1", big, [platform.recipient], (stages) => {
      setImmediate(() => process.kill(stages.at(-1)!.pid!, "SIGKILL"));
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as Error).message).toBe("encryption failed: age was killed by SIGKILL");
  });

  it("reports age's own error line, without its report-a-bug line", async () => {
    const error = await pipeline(
      Readable.from([archive]),
      ageEncryptStage(age.age, ["age1notarecipient"]),
      new Writable({ write: (_c, _e, done) => done() }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as Error).message).toMatch(/^encryption failed: age exited with code 1: age: error: .*age1notarecipient/);
    expect((error as Error).message).not.toContain("report");
  });

  it("removes the identity's pipe, also when age never starts", async () => {
    // A temporary directory of this test's own: other test files decrypt in the shared one meanwhile.
    const tmp = await mkdtemp(path.join(dir, "tmp-"));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const stage = await ageDecryptStage({ ...age, age: path.join(dir, "no-such-age") }, platform.identity);
      const failed = new Promise((resolve) => stage.once("error", resolve));
      expect((await readdir(tmp)).filter((name) => name.startsWith("capy-age-identity-"))).toHaveLength(1);
      const error = await failed;
      expect(error).toBeInstanceOf(StageFailedError);
      await waitFor(async () => ((await readdir(tmp)).length === 0 ? true : undefined), { timeoutMs: 5_000, what: "the identity pipe to be removed" });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
