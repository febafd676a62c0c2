import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliBuilt } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const SUITES = fileURLToPath(new URL('../../../shared/suites/', import.meta.url));
const ok = requirement(
  fs.existsSync('/dev/fuse') && hasCommand('fusermount') && hasCommand('gcc') && cliBuilt() && fs.existsSync(path.join(SUITES, 'run-fsx.sh')),
  'FUSE, gcc, the built CLI and ../shared/suites/run-fsx.sh',
);
const mounted = (dir: string): boolean => fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);

/**
 * fsx (random read/write/truncate/mmap checked against a reference copy) on the kernel mount, all
 * six configurations of the shared runner. CI runs 2,000 operations each to stay quick;
 * `FSX_OPS=100000 bash ../shared/suites/run-fsx.sh DIR` is the full run.
 */
describe.runIf(ok.run)('fsx on the FUSE mount', () => {
  let mnt: string;
  let proc: ChildProcess;
  beforeAll(async () => {
    mnt = tempDir('fsx-mnt');
    proc = spawn(process.execPath, [CLI, '--data', tempDir('fsx-data'), 'mount', mnt], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !mounted(mnt); i++) await new Promise((r) => setTimeout(r, 100));
    if (!mounted(mnt)) throw new Error('mount did not come up');
  });
  afterAll(async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (mounted(mnt)) await run('fusermount', ['-uz', mnt]);
  });

  it('passes every configuration, mmap included', async () => {
    const r = await run('bash', [path.join(SUITES, 'run-fsx.sh'), mnt], {
      env: { FSX_OPS: process.env.FSX_OPS ?? '2000', SUITES_DIR: tempDir('fsx-suites') },
      timeoutMs: 900_000,
    });
    expect(r.out.trim().split('\n').pop(), r.err.slice(-4000)).toBe('fsx: 6 passed, 0 failed');
  }, 900_000);
});
if (!ok.run) describe('fsx on the FUSE mount', () => it.skip(ok.reason, () => {}));
