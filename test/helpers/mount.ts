import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMounted } from '../../src/fuse/mount.js';
import { CLI } from './cli.js';
import { run } from './exec.js';
import { tempDir } from './tmp.js';

/** ../shared/suites: pjdfstest and fsx with their runners (read-only; they build into SUITES_DIR). */
export const SUITES = fileURLToPath(new URL('../../../shared/suites/', import.meta.url));

/** Whether the kernel lists `dir` as a mount point (the check `timefs mount` itself makes). */
export const mounted = isMounted;

export interface MountProcess {
  dir: string;
  data: string;
  proc: ChildProcess;
  /** what the mount process wrote to stderr so far */
  log(): string;
  /** SIGTERM, then a lazy unmount if it is still mounted */
  stop(): Promise<void>;
}

/**
 * `timefs mount` in its own process, as a user runs it (a sync call against a mount served by the
 * test's own event loop would deadlock). Resolves once the kernel lists the mount.
 */
export async function startMount(name: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<MountProcess> {
  const data = tempDir(`${name}-data`);
  const dir = tempDir(`${name}-mnt`);
  const proc = spawn(process.execPath, [CLI, '--data', data, 'mount', dir, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !mounted(dir) && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  if (!mounted(dir)) throw new Error(`mount did not come up: ${log}`);
  return {
    dir,
    data,
    proc,
    log: () => log,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      if (proc.exitCode === null) proc.kill('SIGKILL');
      if (mounted(dir)) await run('umount', ['-l', dir]);
    },
  };
}
