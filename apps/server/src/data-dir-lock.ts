import { randomUUID } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The lock's file name inside DATA_DIR. */
export const LOCK_FILE = "anvil.lock";

/** Who holds a DATA_DIR: enough to tell a live holder from a dead one whose pid was given to another process. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The kernel's boot id (Linux); null where there is none. A lock from before a reboot is stale. */
  bootId: string | null;
  /** The holder's start time in clock ticks after boot (Linux /proc/<pid>/stat field 22): tells a reused pid apart. */
  startTicks: string | null;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Unique per lock taken: a lock file is only ever removed by its taker, or as the very stale lock that was read. */
  token: string;
}

/** A held lock on a DATA_DIR. */
export interface DataDirLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock file (idempotent). */
  release(): Promise<void>;
}

/** Another process, alive, holds the DATA_DIR. */
export class DataDirLocked extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockOwner,
  ) {
    const where = holder.host === hostname() ? "" : ` on ${holder.host}`;
    super(
      `DATA_DIR ${dir} is in use by another Anvil server (pid ${holder.pid}${where}, since ${holder.since}): ` +
        `its embedded database belongs to one process. Stop that server, or give this one another DATA_DIR or a DATABASE_URL`,
    );
    this.name = "DataDirLocked";
  }
}

/** The DATA_DIR cannot hold the server's files: it is not a directory, or cannot be created or written. */
export class DataDirUnusable extends Error {
  constructor(
    readonly dir: string,
    problem: string,
    cause?: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(`DATA_DIR ${dir} ${problem}${code ? ` (${code})` : ""}`, { cause });
    this.name = "DataDirUnusable";
  }
}

const because: Record<string, string> = {
  EACCES: ": permission denied",
  EPERM: ": permission denied",
  EROFS: ": the file system is read-only",
  ENOSPC: ": the disk is full",
  EDQUOT: ": the disk quota is used up",
  ENOTDIR: ": a part of its path is a file",
};
const unusable = (dir: string, problem: string, error: unknown): DataDirUnusable =>
  new DataDirUnusable(dir, `${problem}${because[(error as NodeJS.ErrnoException).code ?? ""] ?? ""}`, error);

/**
 * `mkdir -p` that ends: Node's recursive mkdir retries for ever when mkdir says ENOENT below a parent that exists,
 * as it does anywhere under /proc.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "ENOENT" || dirname(dir) === dir) throw error;
    await makeDirectory(dirname(dir));
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== "EEXIST") throw again;
    });
  }
}

/** Creates `dir` unless it exists; throws {@link DataDirUnusable} when it is not, and cannot become, a directory. */
async function prepareDirectory(dir: string): Promise<void> {
  await makeDirectory(dir).catch((error: unknown) => {
    throw unusable(dir, "cannot be created", error);
  });
  const found = await stat(dir).catch((error: unknown) => {
    throw unusable(dir, "cannot be read", error);
  });
  if (!found.isDirectory()) throw new DataDirUnusable(dir, "is not a directory");
}

/** Tokens of the locks this process holds: a lock naming our own pid is ours only if it is one of these. */
const heldHere = new Set<string>();

const readText = (path: string): Promise<string | null> =>
  readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });

/** Fields 3 on of /proc/<pid>/stat (the state first), or null where /proc does not tell (not Linux, gone). */
async function procStat(pid: number): Promise<string[] | null> {
  const text = await readText(`/proc/${pid}/stat`).catch(() => null);
  // The command name (field 2) may hold spaces and parentheses: count the fields after its closing one.
  return text ? text.slice(text.lastIndexOf(")") + 2).split(" ") : null;
}

/** The process's start time in clock ticks after boot (field 22), or null where /proc does not tell. */
const startTicksOf = async (pid: number): Promise<string | null> => (await procStat(pid))?.[19] ?? null;

async function currentOwner(): Promise<LockOwner> {
  const bootId = await readText("/proc/sys/kernel/random/boot_id").catch(() => null);
  return {
    pid: process.pid,
    host: hostname(),
    bootId: bootId?.trim() || null,
    startTicks: await startTicksOf(process.pid),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
}

/** The owner a lock file names; undefined when there is no such file, null when it names nobody (garbage). */
async function readOwner(path: string): Promise<LockOwner | null | undefined> {
  const text = await readText(path);
  if (text === null) return undefined;
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === "number" && typeof owner.token === "string" ? (owner as LockOwner) : null;
  } catch {
    return null;
  }
}

/** Whether the process a lock names still runs; a holder that cannot be checked (another machine) counts as alive. */
async function isAlive(holder: LockOwner, me: LockOwner): Promise<boolean> {
  if (holder.bootId && me.bootId && holder.bootId !== me.bootId) {
    // Another kernel: the same host rebooted since (stale), or another machine sharing the folder (unknowable).
    return holder.host !== me.host;
  }
  if (!holder.bootId && holder.host !== me.host) return true;
  // In a container the new server is often given the pid its killed predecessor had (1, say).
  if (holder.pid === process.pid) return heldHere.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const proc = await procStat(holder.pid);
  // A zombie (Z; X, x: dead) holds nothing: right after a kill -9 the holder stays one until its parent reaps it.
  if (["Z", "X", "x"].includes(proc?.[0] ?? "")) return false;
  if (!holder.startTicks) return true;
  // The pid runs, but it may have been given to another process since the holder died.
  const startTicks = proc?.[19] ?? null;
  return startTicks === null || startTicks === holder.startTicks;
}

/**
 * Creates `path` holding `owner`, atomically and complete: written to a file of its own first, then hard-linked
 * into place, which fails when `path` exists. So a reader never sees a half-written lock. False when it exists.
 */
async function claim(path: string, owner: LockOwner): Promise<boolean> {
  const draft = `${path}.${owner.token}`;
  await writeFile(draft, `${JSON.stringify(owner)}\n`, { flag: "wx" }).catch((error: unknown) => {
    throw unusable(dirname(path), "is not writable", error);
  });
  try {
    await link(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(draft).catch(() => {});
  }
}

const unlinkIfThere = (path: string): Promise<void> =>
  unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });

/**
 * Removes the lock file at `path` if it is still the stale lock `stale` (null: a file that names nobody). Two
 * servers may find the same stale lock at once: the check and the removal are done under a second lock
 * (`<lock>.break`), held for a few file operations, so that one never removes the fresh lock the other has just
 * taken. Does nothing while another live process holds that second lock; the caller tries again.
 */
export async function breakStaleLock(path: string, stale: LockOwner | null): Promise<void> {
  const me = await currentOwner();
  const breaker = `${path}.break`;
  const breakerOwner = { ...me, token: randomUUID() };
  // Known as ours before the file exists: another acquire in this process must not take it for a dead one's.
  heldHere.add(breakerOwner.token);
  if (!(await claim(breaker, breakerOwner))) {
    heldHere.delete(breakerOwner.token);
    const other = await readOwner(breaker);
    // Left behind by a process killed while it broke a lock: nobody else would ever remove it.
    if (other !== undefined && (other === null || !(await isAlive(other, me)))) await unlinkIfThere(breaker);
    return;
  }
  try {
    const current = await readOwner(path);
    if (current !== undefined && (current?.token ?? null) === (stale?.token ?? null)) await unlinkIfThere(path);
  } finally {
    heldHere.delete(breakerOwner.token);
    await unlinkIfThere(breaker);
  }
}

/**
 * Takes the DATA_DIR for this process, before the embedded database opens: throws {@link DataDirLocked} when a
 * live process holds it. A lock left by a process that died (kill -9, a crash, a reboot) is taken over, also when
 * its pid now belongs to another process. Throws {@link DataDirUnusable} when the DATA_DIR is not a directory,
 * or cannot be created or written. Not seen: a holder in another PID namespace on the same kernel (two
 * containers sharing one volume) looks dead from here.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  await prepareDirectory(dir);
  const path = join(dir, LOCK_FILE);
  const owner = await currentOwner();
  heldHere.add(owner.token);
  try {
    for (let round = 0; round < 20; round++) {
      if (await claim(path, owner)) return held(path, owner);
      const holder = await readOwner(path);
      if (holder === undefined) continue;
      if (holder !== null && (await isAlive(holder, owner))) throw new DataDirLocked(dir, holder);
      await breakStaleLock(path, holder);
      // Another server is breaking the same stale lock: give it the moment it needs.
      await new Promise((resume) => setTimeout(resume, 5 * round));
    }
  } catch (error) {
    heldHere.delete(owner.token);
    throw error;
  }
  heldHere.delete(owner.token);
  throw new Error(`Could not lock DATA_DIR ${dir}: its lock file ${path} kept changing; try again`);
}

function held(path: string, owner: LockOwner): DataDirLock {
  const ours = (text: string | null) => {
    try {
      return text !== null && (JSON.parse(text) as LockOwner).token === owner.token;
    } catch {
      return false;
    }
  };
  // On process.exit (a second signal, a hard deadline) the file goes too; a kill -9 leaves it, and the next server
  // finds its holder dead.
  const onExit = () => {
    try {
      if (ours(readFileSync(path, "utf8"))) unlinkSync(path);
    } catch {
      // Gone already, or the folder with it.
    }
  };
  process.on("exit", onExit);
  let released = false;
  return {
    path,
    owner,
    release: async () => {
      if (released) return;
      released = true;
      process.off("exit", onExit);
      heldHere.delete(owner.token);
      if (ours(await readText(path))) await unlinkIfThere(path);
    },
  };
}
