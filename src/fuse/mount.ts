import { execFileSync, spawnSync } from 'node:child_process';
import fsSync from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AgentFs } from '../fs/agentfs.js';
import { UserError } from '../util/errors.js';
import { CLOSED_MS, type HandleTable } from './handles.js';
import { FuseChannel, mountKernel, type RequestStats } from './kernel/index.js';
import { fuseOps } from './ops.js';

interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
  /** [uid, gid, pid] of the process whose request is being dispatched (set by our patch of fuse-native, scripts/patch-fuse-native.cjs) */
  caller?: [number, number, number];
}
type FuseCtor = new (mnt: string, ops: Record<string, unknown>, opts: Record<string, unknown>) => FuseInstance;

/**
 * Entry cache timeout of the libfuse driver (seconds; it does not cache attributes): changes made
 * through other surfaces (CLI, WebDAV, tools) show up in its mount after at most this long (plus
 * HEAD_STALE_MS for other processes).
 */
export const CACHE_TIMEOUT_S = 1;
/**
 * Entry and attribute cache timeout of the kernel driver for what exists (seconds). Commits made
 * elsewhere drop what they change from the kernel's caches within ~100 ms (kernel/invalidate.ts),
 * so this is only the safety net should that check fail. Long, because every expiry costs a
 * request per name looked at again: git status after a ~20 s git add + commit of 5,000 files sends
 * 12,000 fewer LOOKUPs than with 10 s (0.28/0.32 → 0.22/0.23 s). A tree read again gains nothing:
 * the kernel marks atime stale after each READ and READDIR, so the next stat asks anyway.
 */
export const KERNEL_CACHE_TIMEOUT_S = 60;
/**
 * Entry cache timeout of the kernel driver for "no such name" (seconds). The invalidator drops
 * a cached "no such name" only for paths a log record lists (kernel/invalidate.ts): after a
 * commit listing too many paths to name them all, one outside the list lasts this long.
 */
export const KERNEL_NEGATIVE_TIMEOUT_S = 10;
/**
 * How old the head a mount reads at may be when another process committed (ms): the mount checks
 * for other processes' commits at most this often, not on every request (that check was ~10–20%
 * of a cached lookup). Changes made in this process show at once.
 */
export const HEAD_STALE_MS = 100;

/**
 * The mount's deferred commit (ms; `TIMEFS_COMMIT_DELAY_MS` overrides, 0 = off): the store writes
 * the commits of this long in one SQLite transaction, and a request is answered once its commit is
 * in that transaction. Each commit keeps its own version; what changes is durability — a process
 * crash loses at most the last this-many ms of changes, as a kernel filesystem loses unsynced
 * changes on a power cut; fsync waits for the write (and for the disk). Other processes see a
 * change up to this much later.
 */
export const COMMIT_DELAY_MS = 5;

export function mountCommitDelayMs(): number {
  return envMs('TIMEFS_COMMIT_DELAY_MS', COMMIT_DELAY_MS, 0);
}

/**
 * How often the mount commits what open files have buffered, and the creates, unlinks, rmdirs and
 * links it answered and has not committed yet (ms; `TIMEFS_WRITEBACK_MS` overrides): they show to
 * other surfaces at most this late.
 */
export const WRITEBACK_MS = 3000;

export function mountWritebackMs(): number {
  return envMs('TIMEFS_WRITEBACK_MS', WRITEBACK_MS, 1);
}

/**
 * How long files made through the mount and closed wait for the next close to share its commit
 * (ms; `TIMEFS_CLOSE_WAIT_MS` overrides CLOSED_MS, handles.ts). Tests that count commits set it
 * longer, so that a stall of a loaded machine does not split what a program closed in a row.
 */
export function mountCloseWaitMs(): number {
  return envMs('TIMEFS_CLOSE_WAIT_MS', CLOSED_MS, 1);
}

/** A duration in ms from the environment variable `name` (unset or empty: `fallback`), at least `min`. */
function envMs(name: string, fallback: number, min: number): number {
  const env = process.env[name];
  const ms = env === undefined || env === '' ? fallback : Number(env);
  if (!Number.isFinite(ms) || ms < min) throw new UserError(`${name} must be a number of ms >= ${min}, not '${env}'`);
  return ms;
}

export function isMounted(dir: string): boolean {
  const abs = path.resolve(dir);
  try {
    return fsSync.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === abs);
  } catch {
    return false;
  }
}

/** A FUSE mount left by a crashed process answers ENOTCONN: unmount it so we can mount again. */
function cleanStale(dir: string): void {
  try {
    fsSync.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTCONN') execFileSync('fusermount', ['-uz', dir], { stdio: 'ignore' });
  }
}

function checkFuse(): void {
  if (!fsSync.existsSync('/dev/fuse')) throw new UserError('FUSE is not available: /dev/fuse is missing (load the fuse module, or run the container with --device /dev/fuse)');
  try {
    execFileSync('sh', ['-c', 'command -v fusermount'], { stdio: 'ignore' });
  } catch {
    throw new UserError('fusermount is missing: install the Debian packages fuse and libfuse2 (scripts/install-system-deps.sh)');
  }
}

export interface Mounted {
  dir: string;
  driver: FuseDriver;
  /**
   * Unmounts, then commits what the mount answered and has not committed yet. When processes
   * still use the mount it is detached instead (see FuseChannel.unmount; `onDetached` is told)
   * and this resolves once they let go — they are served, and their writes kept, until then.
   */
  unmount(onDetached?: () => void): Promise<void>;
  /** Resolves when the kernel ended the connection, whoever unmounted (`timefs umount`, fusermount -u). */
  closed: Promise<void>;
  /**
   * Commits what the mount answered and has not committed yet (buffered writes, pending creates
   * and removals) and stops the write-back timer; for when it was unmounted from outside, or
   * must stop serving now, before closing the store.
   */
  settle(): Promise<void>;
}

/**
 * How the mount talks to the kernel. `kernel` (the default when running as root): timefs's own
 * driver speaking the FUSE protocol on /dev/fuse — inode-based, so the kernel caches attributes
 * and entries. `libfuse`: fuse-native over libfuse 2's path-based API, for mounting without root
 * (through fusermount).
 */
export type FuseDriver = 'kernel' | 'libfuse';

/** Mounts an agent's filesystem at dir; `stats` counts the kernel's requests and times their answers (kernel driver). */
export async function mountAgent(fs: AgentFs, dir: string, options: { driver?: FuseDriver; stats?: RequestStats } = {}): Promise<Mounted> {
  checkFuse();
  const writebackMs = mountWritebackMs(); // a bad value fails before anything is mounted
  const closedMs = mountCloseWaitMs();
  const abs = path.resolve(dir);
  cleanStale(abs);
  if (isMounted(abs)) throw new UserError(`${abs} is already a mount point (unmount it first: timefs umount ${abs})`);
  if (!fsSync.existsSync(abs) || !fsSync.statSync(abs).isDirectory()) throw new UserError(`mount point ${abs} is not a directory`);
  const kernelOk = FuseChannel.available();
  const driver = options.driver ?? (kernelOk ? 'kernel' : 'libfuse');
  if (driver === 'kernel' && !kernelOk) throw new UserError('the kernel FUSE driver mounts with mount(2) and needs root: run as root, or use --driver libfuse');
  if (options.stats && driver !== 'kernel') throw new UserError('request statistics come from the kernel driver: mount as root without --driver libfuse');
  const fuseFs = fs.withOptions({ actor: 'fuse', staleHeadMs: HEAD_STALE_MS });
  let unmount: (onDetached?: () => void) => Promise<void>;
  let handles: HandleTable;
  let closed: Promise<void>;
  if (driver === 'kernel') {
    try {
      ({ unmount, handles, closed } = await mountKernel(fuseFs, abs, { cacheSeconds: { entries: KERNEL_CACHE_TIMEOUT_S, negative: KERNEL_NEGATIVE_TIMEOUT_S }, closedMs, ...(options.stats ? { stats: options.stats } : {}) }));
    } catch (err) {
      throw new UserError(`mount failed at ${abs}: ${(err as Error).message}`);
    }
  } else {
    ({ unmount, handles, closed } = await mountLibfuse(fuseFs, abs));
  }
  // write-back: commit buffered writes, pending creates and entry changes at least every few seconds
  const timer = setInterval(() => void handles.flushAll().catch(() => {}), writebackMs);
  timer.unref();
  const settle = async (): Promise<void> => {
    clearInterval(timer);
    await handles.flushAll();
  };
  return {
    dir: abs,
    driver,
    settle,
    closed,
    unmount: async (onDetached) => {
      await handles.flushAll();
      await unmount(onDetached);
      await settle(); // what the processes that kept a detached mount busy wrote meanwhile
    },
  };
}

async function mountLibfuse(fs: AgentFs, abs: string): Promise<{ unmount(): Promise<void>; handles: HandleTable; closed: Promise<void> }> {
  let Fuse: FuseCtor;
  try {
    Fuse = createRequire(import.meta.url)('fuse-native') as FuseCtor;
  } catch (err) {
    throw new UserError(`the fuse-native module could not load (${(err as Error).message.split('\n')[0]}): install libfuse2 and fuse (scripts/install-system-deps.sh)`);
  }
  let fuse: FuseInstance | undefined;
  const { ops, handles } = fuseOps(fs, () => (fuse?.caller ? { uid: fuse.caller[0], gid: fuse.caller[1] } : undefined));
  fuse = new Fuse(abs, ops, {
    allowOther: true,
    bigWrites: true, // 128 KiB write requests (option added by our patch)
    useIno: true, // st_ino is ours: stable across rename and hard links (option added by our patch)
    defaultPermissions: true,
    // attributes are not cached: the path-based API gives each hard link its own kernel inode, so
    // a cached nlink/mode/owner of one name would go stale when another name changes the file
    // (a string: fuse-native skips a falsy 0 and libfuse would then default to 1 s)
    attrTimeout: '0',
    entryTimeout: CACHE_TIMEOUT_S,
    force: true,
  });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(new UserError(`mount failed at ${abs}: ${err.message}`)) : resolve())));
  // fuse-native says nothing when unmounted from outside: the mount table does
  const closed = new Promise<void>((resolve) => {
    const watch = setInterval(() => {
      if (isMounted(abs)) return;
      clearInterval(watch);
      resolve();
    }, 500);
  });
  return { handles, closed, unmount: () => new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve()))) };
}

/**
 * Unmounts dir (fusermount -u). A busy mount (a process has a file or its working directory in
 * it) is refused with what to do — unless `force`, which detaches it (fusermount -u -z): its
 * process serves those processes until they let go, then exits.
 */
export function unmountDir(dir: string, options: { force?: boolean } = {}): 'unmounted' | 'detached' {
  checkFuse();
  const abs = path.resolve(dir);
  const run = (args: string[]): string | null => {
    const r = spawnSync('fusermount', args, { encoding: 'utf8' });
    return r.status === 0 ? null : (r.stderr || r.error?.message || `fusermount exited with ${r.status}`).trim();
  };
  const failed = run(['-u', abs]);
  if (failed === null) return 'unmounted';
  if (!/busy/i.test(failed)) throw new UserError(failed);
  if (!options.force) throw new UserError(`${abs} is busy: a process has a file or its working directory in it (fuser -vm ${abs} lists them). Close them, or detach it with timefs umount --force ${abs} (they are served until they let go)`);
  const lazy = run(['-u', '-z', abs]);
  if (lazy !== null) throw new UserError(lazy);
  return 'detached';
}
