// Verification end to end through real worker processes, real Postgres, Redis, pg_dump and
// pg_restore: a backup is `verified` only after a real restore matched the source's snapshot;
// corrupted, truncated or empty artifacts and restores that lose rows end `failed` with a precise
// message; a worker killed mid-verification leaks no throwaway database once a janitor ran.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Backup, encryptionTargets, generateEncryptionKey, type Job, Keyring, quoteIdent, withDatabase } from "@capy/db";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  run,
  type ServiceProcess,
  TEST_SERVER_URL,
  type TestDatabase,
  uniqueName,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, decodeArtifact, type Harness, submitJob, waitForJob } from "../test-helpers.js";

const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A throwaway-database prefix of the test's own, so janitors and checks see only its databases. */
function testPrefix(): string {
  return `capy_vt${randomBytes(3).toString("hex")}`;
}

async function databasesWithPrefix(prefix: string): Promise<string[]> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [`${prefix}_`]);
    return rows.map((row) => row.datname);
  });
}

async function dropDatabasesWithPrefix(prefix: string): Promise<void> {
  for (const name of await databasesWithPrefix(prefix)) {
    await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
  }
}

function logLines(worker: ServiceProcess): Array<{ job_id?: string; msg: string; time: string }> {
  return worker
    .logs()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { job_id?: string; msg: string; time: string });
}

/** A private TMPDIR for a worker: where its verifications write their temporary archives. */
async function workerTmpdir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-vt-tmp-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The verification of `job` (ended: its row is terminal) undid everything once its verdict was
 * recorded: its throwaway database was dropped after the job row completed (or failed), no
 * database with the prefix is left, and no temporary archive is left in the worker's TMPDIR.
 */
async function expectCleanedUpAfterVerdict(worker: ServiceProcess, job: Job, prefix: string, tmpdir?: string): Promise<void> {
  const dropped = await waitFor(() => logLines(worker).find((line) => line.job_id === job.id && line.msg === "dropped the throwaway database"), {
    timeoutMs: 60_000,
    what: `the drop of job ${job.id}'s throwaway database`,
  });
  expect(Date.parse(dropped.time)).toBeGreaterThanOrEqual(job.completedAt!.getTime());
  expect(await databasesWithPrefix(prefix)).toEqual([]);
  if (tmpdir) await waitFor(async () => (await readdir(tmpdir)).length === 0, { what: "the temporary archive's removal" });
}

async function harnessWith(env: NodeJS.ProcessEnv): Promise<Harness> {
  const harness = await createHarness(env);
  cleanups.push(() => harness.close());
  return harness;
}

async function sourceDatabase(sql: string): Promise<TestDatabase> {
  const db = await createEmptyDatabase("capy_src");
  cleanups.push(() => db.drop());
  await withAdminClient((client) => client.query(sql), db.url);
  return db;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

// Many kinds of objects: schemas with quoted and unicode names, jsonb, arrays, bytea, hstore, enums
// and domains, sequences, views and materialized views (one never populated), functions and
// triggers, a partitioned table with a partitioned index, large objects and extensions.
const RICH_SOURCE = `
  CREATE EXTENSION pgcrypto;
  CREATE EXTENSION hstore;
  CREATE SCHEMA "Sales";
  CREATE SCHEMA "Lager_ü";
  CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN public.positive AS integer CHECK (VALUE > 0);
  CREATE TABLE "Sales"."Kunden" (
    id serial PRIMARY KEY,
    "Name mit Leerzeichen" text NOT NULL,
    mood public.mood,
    tags text[],
    attrs jsonb,
    extra hstore,
    blob bytea,
    qty public.positive,
    token bytea DEFAULT gen_random_bytes(8),
    updated_at timestamptz
  );
  CREATE INDEX "Kunden attrs" ON "Sales"."Kunden" USING gin (attrs);
  INSERT INTO "Sales"."Kunden" ("Name mit Leerzeichen", mood, tags, attrs, extra, blob, qty)
    SELECT 'Kundin ' || g || ' 🐹', (ARRAY['sad','ok','happy'])[1 + g % 3]::public.mood, ARRAY['t' || g, 'ü'],
           jsonb_build_object('n', g, 'nested', jsonb_build_array(g, 'x')), hstore('k', g::text),
           decode(md5(g::text), 'hex'), 1 + g % 50
      FROM generate_series(1, 1500) g;
  CREATE TABLE "Lager_ü"."Artikel" (nr bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "Größe" numeric(10, 2), kunde int REFERENCES "Sales"."Kunden"(id));
  INSERT INTO "Lager_ü"."Artikel" ("Größe", kunde) SELECT g / 7.0, 1 + g % 1500 FROM generate_series(1, 777) g;
  CREATE SEQUENCE public.invoice_no START 1000;
  SELECT nextval('public.invoice_no') FROM generate_series(1, 5);
  CREATE VIEW public.happy_customers AS SELECT id, "Name mit Leerzeichen" FROM "Sales"."Kunden" WHERE mood = 'happy';
  CREATE MATERIALIZED VIEW public.mood_counts AS SELECT mood, count(*) AS n FROM "Sales"."Kunden" GROUP BY mood;
  CREATE MATERIALIZED VIEW public.never_filled AS SELECT 1 AS one WITH NO DATA;
  CREATE FUNCTION "Sales".total_qty(min_qty integer) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT sum(qty) FROM "Sales"."Kunden" WHERE qty >= min_qty $$;
  CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
  CREATE TRIGGER touch BEFORE UPDATE ON "Sales"."Kunden" FOR EACH ROW EXECUTE FUNCTION public.touch();
  CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
  CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  CREATE INDEX events_at ON public.events (at);
  INSERT INTO public.events SELECT g, date '2025-06-01' + (g % 400), jsonb_build_object('g', g) FROM generate_series(1, 2000) g;
  SELECT lo_from_bytea(0, 'hello'), lo_from_bytea(0, convert_to('wörld', 'UTF8'));
`;

describe("verification of a backup", () => {
  const prefix = testPrefix();
  let harness: Harness;
  let source: TestDatabase;
  let tenant: Awaited<ReturnType<Harness["stack"]["createTenant"]>>;
  let backup: Backup;
  let original: Buffer;
  let artifact: string;
  let worker: ServiceProcess;
  let tmpdir: string;

  beforeAll(async () => {
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
    [harness, source, tmpdir] = await Promise.all([harnessWith({ VERIFY_DATABASE_PREFIX: prefix }), sourceDatabase(RICH_SOURCE), workerTmpdir()]);
    worker = await harness.stack.startWorker({ TMPDIR: tmpdir });
    tenant = await harness.stack.createTenant("acme", "rich", source.url);
  });

  it("restores many kinds of objects identically and marks the backup verified", async () => {
    const { stack } = harness;
    const job = await waitForJob(stack, (await submitJob(harness, tenant.project_id)).id, ["completed", "failed"]);
    expect(job).toMatchObject({ state: "completed", attempts: 1, error: null, retryClassification: null, lastExitCode: 0 });
    backup = await stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(backup).toMatchObject({ verificationState: "verified", verificationError: null });
    expect(backup.verifiedAt).not.toBeNull();

    const inventory = backup.sourceInventory as Record<string, unknown>;
    expect(inventory).toMatchObject({
      schemas: ['"Lager_ü"', '"Sales"', "public"],
      tables: ['"Lager_ü"."Artikel"', '"Sales"."Kunden"', "public.events", "public.events_2025", "public.events_2026"],
      sequences: ['"Lager_ü"."Artikel_nr_seq"', '"Sales"."Kunden_id_seq"', "public.invoice_no"],
      views: ["public.happy_customers"],
      materializedViews: ["public.mood_counts", "public.never_filled"],
      functions: ['"Sales".total_qty(integer)', "public.touch()"],
      extensions: ["hstore", "pgcrypto", "plpgsql"],
      largeObjects: 2,
      rowCounts: {
        '"Lager_ü"."Artikel"': 777,
        '"Sales"."Kunden"': 1500,
        "public.events_2025": expect.any(Number),
        "public.events_2026": expect.any(Number),
        "public.mood_counts": 3,
      },
    });
    const counts = inventory.rowCounts as Record<string, number>;
    expect(counts["public.events_2025"]! + counts["public.events_2026"]!).toBe(2000);
    // The partitioned parent holds no rows itself; the unpopulated matview has no count.
    expect(Object.keys(counts)).not.toContain("public.events");
    expect(Object.keys(counts)).not.toContain("public.never_filled");
    expect(inventory.indexes).toEqual(
      expect.arrayContaining(['"Sales"."Kunden attrs"', '"Sales"."Kunden_pkey"', "public.events_at", "public.events_2025_at_idx"]),
    );

    // And the data itself is the same, as an independent restore shows.
    artifact = path.join(stack.storageDir, backup.backupKey);
    original = await readFile(artifact);
    const restored = await createEmptyDatabase("capy_restore");
    cleanups.push(() => restored.drop());
    // Stored encrypted and zstd-compressed (the defaults): age -d, then zstd -d, give the pg_restore archive.
    await decodeArtifact(stack, backup, `${artifact}.decoded`);
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", restored.url, `${artifact}.decoded`]);
    const fingerprint = (url: string) =>
      withAdminClient(async (client) => {
        const { rows } = await client.query<{ k: string; a: string; e: string; lo: string }>(`
          SELECT (SELECT md5(string_agg(k::text, '|' ORDER BY id)) FROM "Sales"."Kunden" k) AS k,
                 (SELECT md5(string_agg(a::text, '|' ORDER BY nr)) FROM "Lager_ü"."Artikel" a) AS a,
                 (SELECT md5(string_agg(e::text, '|' ORDER BY id)) FROM public.events e) AS e,
                 (SELECT string_agg(encode(lo_get(oid), 'escape'), ',' ORDER BY oid) FROM pg_largeobject_metadata) AS lo`);
        return rows[0];
      }, url);
    expect(await fingerprint(restored.url)).toEqual(await fingerprint(source.url));
    // pg_restore -j read an archive with data offsets: the four tables' data and the large objects'.
    const offsets = logLines(worker).find((line) => line.job_id === job.id && line.msg === "archive data offsets written");
    expect(offsets).toMatchObject({ entries: 5 });
    // The throwaway database is gone, dropped after the verdict; so is the temporary archive.
    await expectCleanedUpAfterVerdict(worker, job, prefix, tmpdir);
  });

  /** A verify job of the backup fails with `message` (or one it matches), as does the backup's verification. */
  async function expectVerifyFailsWith(message: string | RegExp) {
    const { stack } = harness;
    const job = await waitForJob(stack, (await submitJob(harness, tenant.project_id, "verify", null, backup.id)).id, ["completed", "failed"]);
    expect(job).toMatchObject({ type: "verify", state: "failed", attempts: 1, retryClassification: "verification" });
    if (typeof message === "string") expect(job.error).toBe(message);
    else expect(job.error).toMatch(message);
    // The backup row is written right after the job's (a statement of its own).
    const failed = await waitFor(
      async () => {
        const row = await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } });
        return row.verificationState === "failed" && row.verificationError === job.error ? row : undefined;
      },
      { timeoutMs: 10_000, what: "the backup's failed verification" },
    );
    expect(failed).toMatchObject({ state: "completed", verificationState: "failed", verifiedAt: null });
    await expectCleanedUpAfterVerdict(worker, job, prefix, tmpdir);
  }

  /** With `bytes` stored, verification fails naming the checksum mismatch (and a shorter object truncated). */
  async function expectVerifyFails(bytes: Buffer) {
    await writeFile(artifact, bytes);
    const size = bytes.length === original.length ? `${bytes.length} bytes` : `${bytes.length} bytes, ${original.length} recorded: truncated`;
    await expectVerifyFailsWith(`artifact checksum mismatch: expected ${backup.sha256}, stored object hashes to ${sha256(bytes)} (${size})`);
  }

  it("fails a verify job when one byte of the stored artifact changed", async () => {
    const flipped = Buffer.from(original);
    const at = Math.floor(flipped.length / 2);
    flipped[at] = flipped[at]! ^ 0x01;
    await expectVerifyFails(flipped);
  });

  it("fails a verify job when the stored artifact is truncated", async () => {
    await expectVerifyFails(original.subarray(0, Math.floor(original.length / 3)));
  });

  it("fails a verify job when the stored artifact is empty", async () => {
    await truncate(artifact, 0);
    await expectVerifyFails(Buffer.alloc(0));
  });

  it("fails a verify job when the artifact's platform key is not among its recipients, naming the key", async () => {
    const { stack } = harness;
    await writeFile(artifact, original);
    // Another project's platform key: a real key, but not one this artifact was encrypted to.
    const other = await stack.createTenant("acme", "other-key", source.url);
    const { keyId } = await encryptionTargets(stack.db, stack.keyring, other.project_id);
    await stack.db.backup.update({ where: { id: backup.id }, data: { encryptionKeyId: keyId } });
    try {
      await expectVerifyFailsWith(
        `artifact is encrypted to key ${keyId} which does not match any of its recipients (age: no identity matched any of the recipients)`,
      );
    } finally {
      await stack.db.backup.update({ where: { id: backup.id }, data: { encryptionKeyId: backup.encryptionKeyId } });
    }
  });

  it("fails a verify job when the keyring cannot open the artifact's platform key, naming the key", async () => {
    const { stack } = harness;
    const key = await stack.db.projectEncryptionKey.findUniqueOrThrow({ where: { id: backup.encryptionKeyId! } });
    // Sealed under a key this keyring does not hold (as if CAPY_ENCRYPTION_KEYS_OLD lost it).
    const foreign = new Keyring(generateEncryptionKey()).seal("AGE-SECRET-KEY-1NOTTHEREALONE");
    await stack.db.projectEncryptionKey.update({ where: { id: key.id }, data: { privateKeyEncrypted: foreign } });
    try {
      await expectVerifyFailsWith(new RegExp(`^artifact is encrypted to key ${key.id} which cannot be opened: .+`));
    } finally {
      await stack.db.projectEncryptionKey.update({ where: { id: key.id }, data: { privateKeyEncrypted: key.privateKeyEncrypted } });
    }
  });

  it("verifies the backup again once the intact artifact is back", async () => {
    const { stack } = harness;
    await writeFile(artifact, original);
    const job = await waitForJob(stack, (await submitJob(harness, tenant.project_id, "verify", null, backup.id)).id, ["completed", "failed"]);
    expect(job).toMatchObject({ state: "completed", error: null, retryClassification: null });
    const after = await stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } });
    expect(after).toMatchObject({ verificationState: "verified", verificationError: null });
    expect(after.verifiedAt!.getTime()).toBeGreaterThan(backup.verifiedAt!.getTime());
  });

  it("fails a verify job for a backup of another project, permanently", async () => {
    const { stack } = harness;
    const other = await stack.createTenant("acme", "other", source.url);
    const job = await waitForJob(stack, (await submitJob(harness, other.project_id, "verify", null, backup.id)).id, ["completed", "failed"]);
    expect(job).toMatchObject({
      state: "failed",
      retryClassification: "permanent",
      error: `backup ${backup.id} does not exist in project ${other.project_id}`,
    });
  });
});

describe("a restore that loses rows", () => {
  const prefix = testPrefix();
  let template: string;

  beforeAll(async () => {
    // A template whose event trigger gives every table created in it a BEFORE INSERT row trigger
    // that silently drops about one row in eight: a restore into it cannot match the source.
    template = uniqueName("capy_lossy_tpl");
    await withAdminClient((client) => client.query(`CREATE DATABASE ${quoteIdent(template)} TEMPLATE template0`));
    cleanups.push(() => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`)));
    await withAdminClient(
      (client) =>
        client.query(`
          CREATE FUNCTION pg_catalog.capy_test_drop_some_rows() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF (hashtext(NEW::text) & 7) = 0 THEN RETURN NULL; END IF;
            RETURN NEW;
          END $$;
          CREATE FUNCTION pg_catalog.capy_test_lossy_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
          DECLARE created record;
          BEGIN
            FOR created IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
              EXECUTE format('CREATE TRIGGER capy_test_drop_some_rows BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION pg_catalog.capy_test_drop_some_rows()', created.object_identity);
            END LOOP;
          END $$;
          CREATE EVENT TRIGGER capy_test_lossy_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION pg_catalog.capy_test_lossy_tables();`),
      withDatabase(TEST_SERVER_URL, template),
    );
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
  });

  it("fails the backup's verification, naming the table and both counts", async () => {
    const source = await sourceDatabase(`CREATE TABLE public.orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 10000) g`);
    const kept = await withAdminClient(async (client) => {
      const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM public.orders o WHERE (hashtext(o::text) & 7) <> 0");
      return rows[0]!.n;
    }, source.url);
    expect(kept).toBeLessThan(10_000);

    const harness = await harnessWith({ VERIFY_DATABASE_PREFIX: prefix, VERIFY_TEMPLATE_DATABASE: template });
    const tmpdir = await workerTmpdir();
    const worker = await harness.stack.startWorker({ TMPDIR: tmpdir });
    const tenant = await harness.stack.createTenant("acme", "lossy", source.url);
    const job = await waitForJob(harness.stack, (await submitJob(harness, tenant.project_id)).id, ["completed", "failed"]);
    const message = `restored copy differs from the source: public.orders: 10000 rows in source, ${kept} restored`;
    expect(job).toMatchObject({ state: "failed", attempts: 1, retryClassification: "verification", error: message });
    // The backup stays visible, with its failed verification.
    expect(await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } })).toMatchObject({
      state: "completed",
      verificationState: "failed",
      verificationError: message,
      verifiedAt: null,
    });
    await expectCleanedUpAfterVerdict(worker, job, prefix, tmpdir);
  });
});

describe("a throwaway database that cannot be created", () => {
  it("fails the verification with the creation's error and leaves no database or temporary archive behind", async () => {
    const prefix = testPrefix();
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
    const source = await sourceDatabase(`CREATE TABLE public.orders AS SELECT g AS id FROM generate_series(1, 1000) g`);
    const template = uniqueName("capy_no_such_tpl");
    const harness = await harnessWith({ VERIFY_DATABASE_PREFIX: prefix, VERIFY_TEMPLATE_DATABASE: template });
    const tmpdir = await workerTmpdir();
    const worker = await harness.stack.startWorker({ TMPDIR: tmpdir });
    const tenant = await harness.stack.createTenant("acme", "no-template", source.url);
    const job = await waitForJob(harness.stack, (await submitJob(harness, tenant.project_id)).id, ["completed", "failed"]);
    const message = `could not create a throwaway database as the cluster admin: template database "${template}" does not exist`;
    expect(job).toMatchObject({ state: "failed", attempts: 1, retryClassification: "permanent", error: message });
    expect(await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } })).toMatchObject({ verificationState: "failed" });
    await expectCleanedUpAfterVerdict(worker, job, prefix, tmpdir);
  });
});

describe("a verification that takes long", () => {
  // Large enough that its restore takes seconds (pgbench scale 20: 2,000,000 accounts).
  let source: TestDatabase;

  beforeAll(async () => {
    source = await createPgbenchDatabase(20);
    cleanups.push(() => source.drop());
  });

  it("is stopped at VERIFY_TIMEOUT_MS: pg_restore killed, the backup failed, nothing left behind", async () => {
    const prefix = testPrefix();
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
    const harness = await harnessWith({ VERIFY_DATABASE_PREFIX: prefix, VERIFY_TIMEOUT_MS: "300" });
    const worker = await harness.stack.startWorker();
    const tenant = await harness.stack.createTenant("acme", "slow-restore", source.url);
    const job = await waitForJob(harness.stack, (await submitJob(harness, tenant.project_id)).id, ["completed", "failed"]);
    const message = "verification timed out after 300 ms (VERIFY_TIMEOUT_MS); pg_restore was stopped";
    expect(job).toMatchObject({ state: "failed", attempts: 1, retryClassification: "timeout", error: message });
    expect(await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } })).toMatchObject({
      verificationState: "failed",
      verificationError: message,
    });
    await expectCleanedUpAfterVerdict(worker, job, prefix);
  });

  it("runs at most VERIFY_CONCURRENCY verifications per cluster at once", async () => {
    const prefix = testPrefix();
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
    const harness = await harnessWith({ VERIFY_DATABASE_PREFIX: prefix, VERIFY_CONCURRENCY: "1" });
    const worker = await harness.stack.startWorker({ WORKER_CONCURRENCY: "2" });
    // Two databases: jobs on one database never run at once (its lock), so only different ones
    // can meet at the cluster's verification slots.
    const copy = uniqueName("capy_src_copy");
    await withAdminClient((client) => client.query(`CREATE DATABASE ${quoteIdent(copy)} TEMPLATE ${quoteIdent(source.name)}`));
    cleanups.push(() => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(copy)} WITH (FORCE)`)));
    const tenants = [
      await harness.stack.createTenant("acme", "serial-one", source.url),
      await harness.stack.createTenant("acme", "serial-two", withDatabase(TEST_SERVER_URL, copy)),
    ];
    const jobs = await Promise.all(tenants.map((tenant) => submitJob(harness, tenant.project_id)));
    for (const job of jobs) {
      const ended = await waitForJob(harness.stack, job.id, ["completed", "failed"], 120_000);
      expect(ended).toMatchObject({ state: "completed" });
      await expectCleanedUpAfterVerdict(worker, ended, prefix);
    }

    // Each job's window from restore to drop, from its worker's log: they must not overlap.
    const lines = logLines(worker);
    const windows = jobs.map((job) => {
      const at = (msg: string) => Date.parse(lines.find((line) => line.job_id === job.id && line.msg === msg)!.time);
      return { start: at("restoring into a throwaway database"), end: at("dropped the throwaway database") };
    });
    windows.sort((a, b) => a.start - b.start);
    expect(windows[1]!.start).toBeGreaterThanOrEqual(windows[0]!.end);
    expect(lines.some((line) => line.msg === "waiting for a verification slot on the cluster")).toBe(true);
  });

  it("leaves no throwaway database once the janitor of a restarted worker has run, when its worker is killed", async () => {
    const prefix = testPrefix();
    cleanups.push(() => dropDatabasesWithPrefix(prefix));
    const harness = await harnessWith({ VERIFY_DATABASE_PREFIX: prefix });
    const doomed = await harness.stack.startWorker();
    const tenant = await harness.stack.createTenant("acme", "killed", source.url);
    const job = await submitJob(harness, tenant.project_id);

    // pg_restore has started filling the throwaway database: kill the worker there.
    const leaked = await waitFor(
      async () => {
        if (!doomed.logs().includes("restoring into a throwaway database")) return undefined;
        const names = await databasesWithPrefix(prefix);
        return names.length === 1 ? names : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 20, what: "a verification to start restoring" },
    );
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    expect(await databasesWithPrefix(prefix)).toEqual(leaked);
    expect(await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: "running" });

    // Anything older than 1 ms counts as abandoned for this worker's janitor.
    const restarted = await harness.stack.startWorker({ VERIFY_TIMEOUT_MS: "1", VERIFY_JANITOR_MARGIN_MS: "0" });
    await waitFor(() => restarted.logs().includes("verification janitor pass finished"), { what: "the janitor's first pass" });
    expect(restarted.logs()).toContain(`"database":"${leaked[0]}"`);
    const remaining = await databasesWithPrefix(prefix);
    expect(remaining.filter((name) => leaked.includes(name))).toEqual([]);
  });
});
