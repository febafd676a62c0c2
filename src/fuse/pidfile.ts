import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIX = 'timefs-mount-';

/**
 * A mount process records its pid by mount point, so that `timefs umount DIR` can wait for it:
 * unmounted from outside, the process commits what it answered and had not committed yet
 * (Mounted.settle) and exits, and a script that reads the store right after `timefs umount`
 * must see that. Keyed by the mount point's absolute path, not by data directory: umount is
 * given only the mount point.
 */
export function mountPidFile(dir: string): string {
  const key = createHash('sha1').update(path.resolve(dir)).digest('hex').slice(0, 16);
  return path.join(os.tmpdir(), `${PREFIX}${key}.pid`);
}

/**
 * Records this process as the one serving the mount at `dir`; the record goes when the process
 * exits. Records left by mount processes that were killed outright go too.
 */
export function recordMountProcess(dir: string): void {
  const file = mountPidFile(dir);
  removeStaleRecords();
  fs.writeFileSync(file, String(process.pid));
  process.on('exit', () => {
    // only our own record: a later mount of the same directory may have replaced it
    if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
  });
}

/**
 * Waits until the process serving the mount at `dir` has exited (it does within ~0.5 s of the
 * unmount, once it has committed what was pending). 'none': no live process recorded (a stale
 * record from a crash, or a mount made by an older timefs); 'timeout': still running after `ms`.
 */
export async function waitForMountProcess(dir: string, ms: number): Promise<{ result: 'exited' | 'none' | 'timeout'; pid?: number }> {
  const file = mountPidFile(dir);
  const pid = readPid(file);
  if (pid === undefined || !alive(pid)) return { result: 'none' };
  const deadline = Date.now() + ms;
  while (alive(pid) && readPid(file) === pid) {
    if (Date.now() > deadline) return { result: 'timeout', pid };
    await new Promise((r) => setTimeout(r, 20));
  }
  return { result: 'exited', pid };
}

/** Removes the records of mount processes that are gone (a SIGKILL skips the exit handler). */
function removeStaleRecords(): void {
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(PREFIX) && n.endsWith('.pid'));
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(os.tmpdir(), name);
    const pid = readPid(file);
    if (pid === undefined || !alive(pid)) fs.rmSync(file, { force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a running timefs mount process: not a zombie (a mount process started by a
 * test may not be reaped yet), and not another program that got the pid of one that was killed.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('mount');
  } catch {
    return true; // no /proc: signal 0 is all we know
  }
}
