import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuilt } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { SUITES, startMount, type MountProcess } from '../helpers/mount.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const ok = requirement(
  fs.existsSync('/dev/fuse') && hasCommand('fusermount') && hasCommand('gcc') && cliBuilt() && fs.existsSync(path.join(SUITES, 'run-fsx.sh')),
  'FUSE, gcc, the built CLI and ../shared/suites/run-fsx.sh',
);

/**
 * fsx (random read/write/truncate/mmap checked against a reference copy) on the kernel mount, all
 * six configurations of the shared runner. CI runs 2,000 operations each to stay quick;
 * `FSX_OPS=100000 bash ../shared/suites/run-fsx.sh DIR` is the full run.
 */
describe.runIf(ok.run)('fsx on the FUSE mount', () => {
  let m: MountProcess;
  beforeAll(async () => {
    m = await startMount('fsx');
  });
  afterAll(async () => m.stop());

  it('passes every configuration, mmap included', async () => {
    const r = await run('bash', [path.join(SUITES, 'run-fsx.sh'), m.dir], {
      env: { FSX_OPS: process.env.FSX_OPS ?? '2000', SUITES_DIR: tempDir('fsx-suites') },
      timeoutMs: 900_000,
    });
    expect(r.out.trim().split('\n').pop(), r.err.slice(-4000)).toBe('fsx: 6 passed, 0 failed');
  }, 900_000);
});
if (!ok.run) describe('fsx on the FUSE mount', () => it.skip(ok.reason, () => {}));
