// Linux /proc reading for the chaos sampler: which local process owns a TCP connection. Every
// backup's source database sees two sessions named "capy-backups" (pg_dump's, and the worker's
// own snapshot/inventory session), so pg_stat_activity alone cannot tell dumps apart from
// sessions; the owning process of the connection's client port can.
import { readdir, readFile, readlink } from "node:fs/promises";

export interface ProcessInfo {
  pid: number;
  comm: string;
  ppid: number;
  cmdline: string[];
}

/** client (local) TCP port -> socket inode, for connections to `serverPort`. */
export async function clientPortInodes(serverPort: number): Promise<Map<number, string>> {
  const map = new Map<number, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = fields[1]!;
      const remote = fields[2]!;
      const remotePort = parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16);
      if (remotePort !== serverPort) continue;
      const localPort = parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
      // Inode 0: a socket its process has already closed (FIN_WAIT, TIME_WAIT); nobody owns it.
      if (fields[9] !== "0") map.set(localPort, fields[9]!);
    }
  }
  return map;
}

/** Socket inodes a process holds open (empty when it is gone). */
export async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  await Promise.all(
    fds.map(async (fd) => {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    }),
  );
  return inodes;
}

export async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${pid}/stat`, "utf8"), readFile(`/proc/${pid}/cmdline`, "utf8")]);
    // "pid (comm) state ppid …"; comm may hold spaces or parentheses, so split at the last ")".
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    return { pid, comm, ppid, cmdline: cmdline.split("\0").filter(Boolean) };
  } catch {
    return undefined;
  }
}

/** Every live process whose command name is `comm` (e.g. "pg_dump"). */
export async function processesNamed(comm: string): Promise<ProcessInfo[]> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const found: ProcessInfo[] = [];
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const own = await readFile(`/proc/${name}/comm`, "utf8").catch(() => "");
        if (own.trim() !== comm) return;
        const info = await processInfo(Number(name));
        if (info) found.push(info);
      }),
  );
  return found;
}

/** The value after `-d` in a PostgreSQL client tool's argument list. */
export function databaseArgument(cmdline: string[]): string | undefined {
  const index = cmdline.indexOf("-d");
  if (index >= 0) return cmdline[index + 1];
  const joined = cmdline.find((arg) => arg.startsWith("--dbname="));
  return joined?.slice("--dbname=".length);
}
