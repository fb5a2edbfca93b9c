import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../failures/errors.js";
import { escapePassfileField, passfileLine, withPassfile } from "./passfile.js";

describe("passfile", () => {
  it("escapes backslashes and colons as libpq reads them", () => {
    expect(escapePassfileField("a:b\\c")).toBe("a\\:b\\\\c");
    expect(passfileLine("app:user", "p:w\\d")).toBe("*:*:*:app\\:user:p\\:w\\\\d\n");
  });

  it("refuses values with line breaks, which the format cannot hold", () => {
    expect(() => passfileLine("app", "two\nlines")).toThrow(ConfigurationError);
  });

  it("exists only during the work, private to the worker", async () => {
    let seen = "";
    const result = await withPassfile("app", "s3cret:x", async (file) => {
      seen = file;
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
      expect(await readFile(file, "utf8")).toBe("*:*:*:app:s3cret\\:x\n");
      return "done";
    });
    expect(result).toBe("done");
    expect(existsSync(seen)).toBe(false);
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it("is removed when the work fails", async () => {
    let seen = "";
    await expect(
      withPassfile("app", "s3cret", async (file) => {
        seen = file;
        throw new Error("pg_dump failed");
      }),
    ).rejects.toThrow("pg_dump failed");
    expect(seen).not.toBe("");
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it("is empty for a project without a password", async () => {
    await withPassfile("app", null, async (file) => {
      expect(await readFile(file, "utf8")).toBe("");
    });
  });
});
