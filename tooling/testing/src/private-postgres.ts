// A throwaway PostgreSQL server of a test's own, with password (scram-sha-256) authentication:
// the shared server trusts every local connection, so only a private one can tell a right
// password from a wrong one. It listens on 127.0.0.1 at a free port, keeps its socket in its own
// directory, and is stopped and deleted by stop(), on a failed start, and at process exit.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { appendFile, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./wait.js";

const execFileAsync = promisify(execFile);

export interface PrivatePostgres {
  /** postgresql://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Shuts the server down (fast mode: sessions are terminated), keeping its data, for outage tests. */
  halt(): Promise<void>;
  /** Starts the server halt() stopped, same port and data. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** Directory of initdb and pg_ctl: `pg_config --bindir`, else whatever PATH finds. */
function postgresBinDir(): string | undefined {
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
 * OS user (through runuser) in a directory that user owns.
 */
const asRoot = process.getuid?.() === 0;

function serverCommand(binDir: string | undefined, tool: string, args: string[]): [string, string[]] {
  const executable = binDir ? path.join(binDir, tool) : tool;
  return asRoot ? ["runuser", ["-u", "postgres", "--", executable, ...args]] : [executable, args];
}

export async function startPrivatePostgres({
  password,
  maxConnections = 20,
}: {
  password: string /** max_connections (default 20). */;
  maxConnections?: number;
}): Promise<PrivatePostgres> {
  const binDir = postgresBinDir();
  const run = async (tool: string, args: string[]) => {
    const [command, argv] = serverCommand(binDir, tool, args);
    await execFileAsync(command, argv, { cwd: os.tmpdir(), timeout: 60_000 });
  };

  const root = await mkdtemp(path.join(os.tmpdir(), "capy-private-pg-"));
  const data = path.join(root, "data");
  const log = path.join(root, "server.log");
  const stopSync = () => {
    const [command, argv] = serverCommand(binDir, "pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]);
    if (existsSync(path.join(data, "postmaster.pid"))) {
      try {
        execFileSync(command, argv, { cwd: os.tmpdir(), stdio: "ignore", timeout: 30_000 });
      } catch {
        // already stopped
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", stopSync);

  try {
    const owner = asRoot ? await postgresUser() : undefined;
    if (owner) await chown(root, owner.uid, owner.gid);
    const pwfile = path.join(root, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) await chown(pwfile, owner.uid, owner.gid);
    await run("initdb", ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "--no-sync", "-E", "UTF8", "--no-instructions"]);
    await rm(pwfile);

    const port = await freePort();
    await appendFile(
      path.join(data, "postgresql.conf"),
      [
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${root}'`,
        "fsync = off",
        `max_connections = ${maxConnections}`,
        "",
      ].join("\n"),
    );
    await run("pg_ctl", ["start", "-D", data, "-l", log, "-w", "-t", "60"]);
    return {
      url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      port,
      halt: () => run("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-t", "60"]),
      resume: () => run("pg_ctl", ["start", "-D", data, "-l", log, "-w", "-t", "60"]),
      async stop() {
        process.removeListener("exit", stopSync);
        stopSync();
      },
    };
  } catch (error) {
    process.removeListener("exit", stopSync);
    stopSync();
    throw error;
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await execFileAsync("id", [flag, "postgres"])).stdout.trim());
  return { uid: await id("-u"), gid: await id("-g") };
}
