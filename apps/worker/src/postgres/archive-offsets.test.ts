// Data offsets written into an archive pg_dump streamed into a pipe, checked with the real
// pg_dump and pg_restore: the patched archive is the one pg_dump writes into a file (its TOC
// offsets and data blocks), pg_restore -j 2 restores it, and anything unexpected (a truncated or
// garbage file, offsets already there) is left byte for byte as it was, with the reason.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createEmptyDatabase, run, type TestDatabase, withAdminClient } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K_OFFSET_NO_DATA, K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET, readArchiveToc, writeDataOffsets } from "./archive-offsets.js";

// Row-per-chunk data (pg_dump -Z0 writes one chunk per row), an empty table, a sequence, an
// index (no data of its own) and large objects (a BLOBS block).
const SOURCE = `
  CREATE TABLE public.wide AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 20000) g;
  CREATE INDEX wide_id ON public.wide (id);
  CREATE TABLE public.empty (x int);
  CREATE TABLE public.small (id serial PRIMARY KEY, note text);
  INSERT INTO public.small (note) SELECT 'note ' || g FROM generate_series(1, 10) g;
  SELECT lo_from_bytea(0, 'hello'), lo_from_bytea(0, convert_to('wörld', 'UTF8'));
`;
const COUNTS =
  "SELECT (SELECT count(*) FROM public.wide) AS wide, (SELECT count(*) FROM public.empty) AS empty, (SELECT count(*) FROM public.small) AS small, (SELECT count(*) FROM pg_largeobject_metadata) AS los";

let source: TestDatabase;
let dir: string;
/** pg_dump -Fc -Z0 into a pipe (no offsets), and -f into a file (offsets set by pg_dump). */
let piped: string;
let seekable: string;

/** pg_dump's stdout is a pipe, as a backup's is. */
async function dumpThroughPipe(file: string): Promise<void> {
  const child = spawn("pg_dump", ["-Fc", "-Z0", "-d", source.url], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  await pipeline(child.stdout, createWriteStream(file));
  expect(await exited).toBe(0);
}

async function patchedCopy(name: string): Promise<string> {
  const file = path.join(dir, name);
  await copyFile(piped, file);
  return file;
}

beforeAll(async () => {
  source = await createEmptyDatabase("capy_src");
  await withAdminClient((client) => client.query(SOURCE), source.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-offsets-test-"));
  piped = path.join(dir, "piped.dump");
  seekable = path.join(dir, "seekable.dump");
  await dumpThroughPipe(piped);
  await run("pg_dump", ["-Fc", "-Z0", "-f", seekable, "-d", source.url]);
});

afterAll(async () => {
  await source?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("writeDataOffsets", () => {
  it("writes the offsets pg_dump writes into a file, and only them", async () => {
    const before = await readArchiveToc(piped);
    expect(before.version).toBe("1.14");
    const withData = before.entries.filter((entry) => entry.flag !== K_OFFSET_NO_DATA);
    // Three tables' data and the large objects, none located.
    expect(withData.map((entry) => entry.flag)).toEqual([K_OFFSET_POS_NOT_SET, K_OFFSET_POS_NOT_SET, K_OFFSET_POS_NOT_SET, K_OFFSET_POS_NOT_SET]);

    const file = await patchedCopy("patched.dump");
    expect(await writeDataOffsets(file)).toEqual({ written: true, entries: 4 });
    const after = await readArchiveToc(file);
    const reference = await readArchiveToc(seekable);
    expect(after.entries.filter((entry) => entry.flag !== K_OFFSET_NO_DATA).every((entry) => entry.flag === K_OFFSET_POS_SET)).toBe(true);
    expect(after.entries).toEqual(reference.entries);
    // Nothing moved: the data section is byte for byte pg_dump's, and only offset fields changed.
    const [patched, original, written] = await Promise.all([readFile(file), readFile(piped), readFile(seekable)]);
    expect(patched.length).toBe(original.length);
    expect(patched.subarray(after.dataStart).equals(written.subarray(reference.dataStart))).toBe(true);
    const fields = new Set(withData.flatMap((entry) => Array.from({ length: 9 }, (_, i) => entry.fieldAt + i)));
    for (let i = 0; i < patched.length; i++) if (patched[i] !== original[i]) expect(fields.has(i)).toBe(true);
  });

  it("leaves an archive that pg_restore lists as before and restores with -j 2", async () => {
    const file = await patchedCopy("restored.dump");
    await writeDataOffsets(file);
    expect((await run("pg_restore", ["-l", file])).stdout).toBe((await run("pg_restore", ["-l", piped])).stdout);
    const target = await createEmptyDatabase("capy_restore");
    try {
      await run("pg_restore", ["--no-owner", "--exit-on-error", "-j", "2", "-d", target.url, file]);
      const counts = (url: string) => withAdminClient(async (client) => (await client.query(COUNTS)).rows[0], url);
      expect(await counts(target.url)).toEqual({ wide: "20000", empty: "0", small: "10", los: "2" });
      expect(await counts(target.url)).toEqual(await counts(source.url));
    } finally {
      await target.drop();
    }
  });

  it("reads version 1.15's header (PostgreSQL 16: the compression algorithm is a byte, not an int)", async () => {
    // pg_dump 15 is what runs here: its archive with 1.15's header, the rest as it was (1.15
    // changed nothing else), so every position moves back by 4 bytes.
    const original = await readFile(piped);
    // PGDMP, version 1.14.0, intSize, offSize, format: 11 bytes; then the compression level, an int of 5.
    const header = Buffer.from(original.subarray(0, 11));
    header[6] = 15;
    const file = path.join(dir, "v115.dump");
    await writeFile(file, Buffer.concat([header, Buffer.from([0]), original.subarray(11 + 5)]));
    expect(await writeDataOffsets(file)).toEqual({ written: true, entries: 4 });
    const reference = (await readArchiveToc(seekable)).entries;
    const after = await readArchiveToc(file);
    expect(after.version).toBe("1.15");
    expect(after.entries).toEqual(
      reference.map((entry) => ({ ...entry, fieldAt: entry.fieldAt - 4, offset: entry.flag === K_OFFSET_POS_SET ? entry.offset - 4 : entry.offset })),
    );
  });

  it("leaves an archive with offsets already set untouched", async () => {
    const bytes = await readFile(seekable);
    expect(await writeDataOffsets(seekable)).toEqual({ written: false, reason: "the archive already has data offsets" });
    expect((await readFile(seekable)).equals(bytes)).toBe(true);
    const file = await patchedCopy("twice.dump");
    await writeDataOffsets(file);
    expect(await writeDataOffsets(file)).toEqual({ written: false, reason: "the archive already has data offsets" });
  });

  it("leaves a truncated archive untouched, saying where it ends", async () => {
    const original = await readFile(piped);
    for (const length of [3, 40, (await readArchiveToc(piped)).dataStart - 3, Math.floor(original.length / 2), original.length - 1]) {
      const file = path.join(dir, `truncated-${length}.dump`);
      await writeFile(file, original.subarray(0, length));
      const result = await writeDataOffsets(file);
      expect(result).toMatchObject({ written: false, reason: expect.stringMatching(/^file ends at byte \d+/) });
      expect((await readFile(file)).equals(original.subarray(0, length))).toBe(true);
    }
  });

  it("leaves garbage untouched, saying what is wrong", async () => {
    const original = await readFile(piped);
    const garbage = path.join(dir, "garbage.dump");
    await writeFile(garbage, Buffer.from("not an archive at all, just text"));
    expect(await writeDataOffsets(garbage)).toEqual({ written: false, reason: "not a custom-format archive (no PGDMP magic)" });

    const newer = Buffer.from(original);
    newer[6] = 17; // archive version 1.17
    await writeFile(garbage, newer);
    expect(await writeDataOffsets(garbage)).toEqual({ written: false, reason: "archive version 1.17.0 is not one this reads" });

    // A data block of an unknown type, right after the TOC.
    const strange = Buffer.from(original);
    strange[(await readArchiveToc(piped)).dataStart] = 9;
    await writeFile(garbage, strange);
    expect(await writeDataOffsets(garbage)).toMatchObject({ written: false, reason: expect.stringMatching(/^data block of type 9 at byte \d+$/) });
    expect((await readFile(garbage)).equals(strange)).toBe(true);
  });
});
