import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, breakStaleLock, DataDirLocked, DataDirUnusable, LOCK_FILE } from "./data-dir-lock";
import type { DataDirLock, LockOwner } from "./data-dir-lock";

const folders: string[] = [];
const locks: DataDirLock[] = [];
const processes: ChildProcess[] = [];
afterEach(async () => {
  for (const child of processes.splice(0)) child.kill("SIGKILL");
  for (const lock of locks.splice(0)) await lock.release();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

const newDataDir = async (): Promise<string> => {
  const folder = await mkdtemp(join(tmpdir(), "anvil-lock-test-"));
  folders.push(folder);
  return join(folder, "data");
};
const take = async (dataDir: string): Promise<DataDirLock> => {
  const lock = await acquireDataDirLock(dataDir);
  locks.push(lock);
  return lock;
};
const lockFileOf = async (dataDir: string): Promise<LockOwner> =>
  JSON.parse(await readFile(join(dataDir, LOCK_FILE), "utf8")) as LockOwner;

/** Takes a real lock and releases it, then leaves a lock file that says what `change` makes of that owner. */
const leaveLock = async (dataDir: string, change: (owner: LockOwner) => Partial<LockOwner>): Promise<LockOwner> => {
  const lock = await acquireDataDirLock(dataDir);
  await lock.release();
  const owner = { ...lock.owner, token: "left-behind", ...change(lock.owner) };
  await writeFile(join(dataDir, LOCK_FILE), JSON.stringify(owner));
  return owner;
};

/** The pid of a process that has exited. */
const deadPid = async (): Promise<number> => {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
};

/** /proc/<pid>/stat's fields from the state (field 3) on. */
const procStat = async (pid: number): Promise<string[]> => {
  const text = await readFile(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
};

/**
 * A process that has exited but is not reaped: sh starts `sleep 1` and becomes `sleep 30`, which never waits for
 * the child it inherits. So a server killed with -9 looks alive until its parent gets round to reaping it. (The
 * child outlives sh's exec by a second: one that ended first, as `sleep 0` could on a loaded machine, was reaped by
 * sh itself and left no zombie.)
 */
const zombie = async (): Promise<{ pid: number; startTicks: string }> => {
  const parent = spawn("sh", ["-c", "sleep 1 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
  processes.push(parent);
  const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once("data", (data) => resolve(`${data}`))));
  for (let tries = 0; tries < 250; tries++) {
    const [state, , , , , , , , , , , , , , , , , , , startTicks] = await procStat(pid);
    if (state === "Z") return { pid, startTicks: startTicks! };
    await new Promise((resume) => setTimeout(resume, 20));
  }
  throw new Error(`pid ${pid} did not become a zombie`);
};

const unusable = async (work: Promise<unknown>): Promise<DataDirUnusable> => {
  const error = await work.then(
    () => null,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DataDirUnusable);
  return error as DataDirUnusable;
};

const lockedBy = async (work: Promise<unknown>): Promise<DataDirLocked> => {
  const error = await work.then(
    () => null,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DataDirLocked);
  return error as DataDirLocked;
};

describe("acquireDataDirLock", () => {
  it("creates the DATA_DIR and a lock naming this process, and removes the lock on release", async () => {
    const dataDir = await newDataDir();
    const lock = await take(dataDir);
    expect(await lockFileOf(dataDir)).toMatchObject({ pid: process.pid, host: hostname(), token: lock.owner.token });
    await lock.release();
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });

  it("refuses a second taker while the lock is held, naming the folder and the holder's pid", async () => {
    const dataDir = await newDataDir();
    await take(dataDir);
    const refused = await lockedBy(acquireDataDirLock(dataDir));
    expect(refused.message).toContain(`DATA_DIR ${dataDir} is in use by another Anvil server (pid ${process.pid}`);
    expect(refused.holder.pid).toBe(process.pid);
  });

  it("can be taken again once released", async () => {
    const dataDir = await newDataDir();
    await (await acquireDataDirLock(dataDir)).release();
    expect((await take(dataDir)).owner.pid).toBe(process.pid);
  });

  it("refuses while another live process holds it", async () => {
    const dataDir = await newDataDir();
    // The test runner's parent process outlives the test; without a start time only its pid is checked.
    await leaveLock(dataDir, () => ({ pid: process.ppid, startTicks: null }));
    const refused = await lockedBy(acquireDataDirLock(dataDir));
    expect(refused.holder.pid).toBe(process.ppid);
    expect(refused.message).toContain(`pid ${process.ppid}`);
  });

  it("takes over the lock of a process that died (kill -9 leaves it behind)", async () => {
    const dataDir = await newDataDir();
    const pid = await deadPid();
    await leaveLock(dataDir, () => ({ pid }));
    const lock = await take(dataDir);
    expect(await lockFileOf(dataDir)).toMatchObject({ pid: process.pid, token: lock.owner.token });
  });

  it.runIf(existsSync("/proc/self/stat"))(
    "takes over the lock of a process killed but not yet reaped by its parent (a zombie)",
    async () => {
      const dataDir = await newDataDir();
      const dead = await zombie();
      // Its pid answers kill(pid, 0) and its start time is the holder's: only its state tells it is gone.
      const stale = await leaveLock(dataDir, () => dead);
      expect(stale).toMatchObject({ pid: dead.pid, startTicks: dead.startTicks });
      expect((await take(dataDir)).owner.pid).toBe(process.pid);
    },
  );

  it.runIf(existsSync("/proc/self/stat"))(
    "takes over a lock whose pid now belongs to another process (started later than the holder)",
    async () => {
      const dataDir = await newDataDir();
      await leaveLock(dataDir, (owner) => ({ pid: process.ppid, startTicks: `${owner.startTicks}1` }));
      expect((await take(dataDir)).owner.pid).toBe(process.pid);
    },
  );

  it("takes over a lock naming this very pid that this process never took (a restarted container's pid 1)", async () => {
    const dataDir = await newDataDir();
    await leaveLock(dataDir, () => ({}));
    expect((await take(dataDir)).owner.pid).toBe(process.pid);
  });

  it("takes over a lock from before a reboot of this host, but not one of another machine", async () => {
    const rebooted = await newDataDir();
    await leaveLock(rebooted, () => ({ bootId: "an-earlier-boot" }));
    expect((await take(rebooted)).owner.pid).toBe(process.pid);

    const shared = await newDataDir();
    await leaveLock(shared, () => ({ bootId: "another-kernel", host: "another-machine" }));
    const refused = await lockedBy(acquireDataDirLock(shared));
    expect(refused.message).toContain("on another-machine");
  });

  it("takes over a lock file that names nobody", async () => {
    const dataDir = await newDataDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, LOCK_FILE), "not json");
    expect((await take(dataDir)).owner.pid).toBe(process.pid);
  });

  it("breaks a stale lock only while it is still the one found stale, not the fresh lock of a quicker taker", async () => {
    const dataDir = await newDataDir();
    const pid = await deadPid();
    const stale = await leaveLock(dataDir, () => ({ pid }));
    // Another server found the same stale lock, broke it and took the DATA_DIR before this one got to it.
    const quicker = await take(dataDir);
    await breakStaleLock(join(dataDir, LOCK_FILE), stale);
    expect((await lockFileOf(dataDir)).token).toBe(quicker.owner.token);
    await lockedBy(acquireDataDirLock(dataDir));
  });

  it("clears the breaker a process killed while breaking a stale lock left behind", async () => {
    const dataDir = await newDataDir();
    const pid = await deadPid();
    const stale = await leaveLock(dataDir, () => ({ pid }));
    await writeFile(join(dataDir, `${LOCK_FILE}.break`), JSON.stringify({ ...stale, token: "dead-breaker" }));
    expect((await take(dataDir)).owner.pid).toBe(process.pid);
    expect(existsSync(join(dataDir, `${LOCK_FILE}.break`))).toBe(false);
  });

  it("leaves a lock that is no longer its own when released", async () => {
    const dataDir = await newDataDir();
    const lock = await acquireDataDirLock(dataDir);
    await writeFile(join(dataDir, LOCK_FILE), JSON.stringify({ ...lock.owner, token: "someone-else" }));
    await lock.release();
    expect((await lockFileOf(dataDir)).token).toBe("someone-else");
  });
});

describe("acquireDataDirLock on a DATA_DIR that cannot hold files", () => {
  it("refuses a file, saying DATA_DIR is not a directory", async () => {
    const file = join(await newDataDir(), "..", "a-file");
    await writeFile(file, "");
    expect((await unusable(acquireDataDirLock(file))).message).toBe(`DATA_DIR ${file} is not a directory`);
  });

  it("refuses a path through a file, saying it cannot be created", async () => {
    const file = join(await newDataDir(), "..", "a-file");
    await writeFile(file, "");
    expect((await unusable(acquireDataDirLock(join(file, "data")))).message).toBe(
      `DATA_DIR ${join(file, "data")} cannot be created: a part of its path is a file (ENOTDIR)`,
    );
  });

  // Node's own recursive mkdir retries for ever there.
  it.runIf(existsSync("/proc/self"))("ends at once where the folder cannot be made under /proc", async () => {
    expect((await unusable(acquireDataDirLock("/proc/anvil-data"))).message).toBe(
      "DATA_DIR /proc/anvil-data cannot be created (ENOENT)",
    );
  });

  it.runIf(process.getuid?.() !== 0)("refuses a folder this user may not write, saying so", async () => {
    const dataDir = await newDataDir();
    await mkdir(dataDir);
    await chmod(dataDir, 0o500);
    expect((await unusable(acquireDataDirLock(dataDir))).message).toBe(
      `DATA_DIR ${dataDir} is not writable: permission denied (EACCES)`,
    );
  });

  it.runIf(existsSync("/sys/kernel"))("refuses a folder nobody may write, root included (sysfs)", async () => {
    expect((await unusable(acquireDataDirLock("/sys/kernel"))).message).toMatch(
      /^DATA_DIR \/sys\/kernel is not writable: (permission denied \(EACCES\)|the file system is read-only \(EROFS\))$/,
    );
  });
});
