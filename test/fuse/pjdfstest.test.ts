import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuilt } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { SUITES, startMount, type MountProcess } from '../helpers/mount.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const ok = requirement(
  process.getuid?.() === 0 && fs.existsSync('/dev/fuse') && hasCommand('gcc') && hasCommand('autoreconf') && hasCommand('prove') && cliBuilt() && fs.existsSync(path.join(SUITES, 'run-pjdfstest.sh')),
  'root, FUSE, gcc/autoconf/prove (scripts/install-system-deps.sh), the built CLI and ../shared/suites/run-pjdfstest.sh',
);

/**
 * pjdfstest — every one of its 238 files (POSIX syscall semantics, as root switching uids) — on
 * the kernel mount with the default driver. No exclusions: the target is 100% passed.
 */
describe.runIf(ok.run)('pjdfstest on the FUSE mount', () => {
  let m: MountProcess;
  beforeAll(async () => {
    m = await startMount('pjdfstest');
  });
  afterAll(async () => m.stop());

  it('passes every test file', async () => {
    const r = await run('bash', [path.join(SUITES, 'run-pjdfstest.sh'), m.dir], {
      env: { SUITES_DIR: tempDir('pjdfstest-suites'), TIMEOUT: '1500' },
      timeoutMs: 1_600_000,
    });
    const summary = r.out.trim().split('\n').pop() ?? '';
    console.log(summary); // the count, in the CI log
    expect(summary, `${r.err.slice(-6000)}\n${m.log().slice(-2000)}`).toMatch(/^pjdfstest: \d+ passed, 0 failed$/);
    expect(r.code).toBe(0);
  }, 1_700_000);
});
if (!ok.run) describe('pjdfstest on the FUSE mount', () => it.skip(ok.reason, () => {}));
