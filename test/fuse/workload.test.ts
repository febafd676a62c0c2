import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuilt, timefs } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { startMount, type MountProcess } from '../helpers/mount.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const FILES = 5000;
const fuse = requirement(fs.existsSync('/dev/fuse') && hasCommand('fusermount') && cliBuilt(), 'FUSE (/dev/fuse, fusermount from apt fuse) and the built CLI');
const root = requirement(process.getuid?.() === 0, 'root (the kernel driver mounts with mount(2))');
const git = requirement(hasCommand('git'), 'git');

/**
 * The 5,000 small files of the benchmark (bench/fuse.ts), with content that differs per file:
 * 250 packages × lib|dist × 7 modules, 100 B – 20 KB each, text and binary, some executable.
 */
function makeTree(dir: string): void {
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `pkg-${i % 250}`, i % 2 ? 'lib' : 'dist', `m${i % 7}`);
    fs.mkdirSync(sub, { recursive: true });
    const size = 100 + ((i * 7919) % 20_000);
    const body = i % 3 === 0 ? randomBytes(size) : Buffer.from(`// file ${i}\n${'export const x = 1;\n'.repeat(size / 20)}`);
    fs.writeFileSync(path.join(sub, `f${i}.js`), body, { mode: i % 10 === 0 ? 0o755 : 0o644 });
  }
}

/** Every file under the current directory (.git aside): path, mode and SHA-256, sorted. */
const LISTING = `find . -path ./.git -prune -o -type f -printf '%P %m\\n' | sort > /tmp/$$.modes && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum | paste -d' ' /tmp/$$.modes - ; rm -f /tmp/$$.modes`;

/**
 * The workloads issue 5 names, on the kernel mount, as a user runs them: untar 5,000 small
 * files, read them all (find | xargs cat), git init + add + commit + status, rm -rf — then the
 * tree read back at a version from before the rm -rf, compared byte for byte (and mode for mode)
 * with the original. bench/fuse.ts times the same workloads; this checks what they leave behind.
 */
describe.runIf(fuse.run && root.run && git.run)(`FUSE mount: real workloads on ${FILES} files`, () => {
  let m: MountProcess;
  let src: string;
  let tar: string;
  const sh = (script: string, cwd = m.dir) => run('bash', ['-euo', 'pipefail', '-c', script], { cwd, timeoutMs: 300_000 });

  beforeAll(async () => {
    const local = tempDir('workload-src');
    src = path.join(local, 'tree');
    makeTree(src);
    tar = path.join(local, 'tree.tar');
    const made = await sh(`tar -cf ${tar} -C ${src} .`, local);
    expect(made.code, made.err).toBe(0);
    m = await startMount('fuse-workload', ['--driver', 'kernel']);
  }, 120_000);

  afterAll(async () => m?.stop());

  it('untar, find | xargs cat, git add/commit/status, rm -rf, and the tree from before the rm -rf is identical', async () => {
    const original = await sh(LISTING, src);
    expect(original.code, original.err).toBe(0);
    expect(original.out.trim().split('\n')).toHaveLength(FILES);

    const untar = await sh(`mkdir t && tar -xf ${tar} -C t && find t -type f | wc -l`);
    expect(untar.out, untar.err).toBe(`${FILES}\n`);
    // every byte read back through the mount (find | xargs cat), against the same on the disk
    const readAll = 'find . -type f -print0 | sort -z | xargs -0 cat | sha256sum';
    const [viaMount, viaDisk] = await Promise.all([sh(readAll, path.join(m.dir, 't')), sh(readAll, src)]);
    expect(viaMount.out, viaMount.err).toBe(viaDisk.out);

    const gitRun = await sh(`cd t && git init -q && git config gc.auto 0 && git -c user.email=t@t -c user.name=t add -A && git -c user.email=t@t -c user.name=t commit -qm import && git status --porcelain | wc -l && git ls-files | wc -l && git fsck --no-progress 2>&1 | wc -l`);
    expect(gitRun.out, gitRun.err).toBe(`0\n${FILES}\n0\n`);
    expect((await sh(LISTING, path.join(m.dir, 't'))).out).toBe(original.out);

    const before = timefs(m.data, ['version-at', 'now']).stdout.trim();
    expect(before).toMatch(/^[0-9a-f]{20}$/);
    const rm = await sh('rm -rf t && ls -A');
    expect(rm.out, rm.err).toBe('');

    // the past, as it was before the rm -rf: the same files, bytes and modes, and git's history
    const past = await sh(LISTING, path.join(m.dir, `t@${before}`));
    expect(past.code, past.err).toBe(0);
    expect(past.out).toBe(original.out);
    const log = await sh(`git --git-dir=t@${before}/.git log --format=%s`);
    expect(log.out, log.err).toBe('import\n');
  }, 600_000);
});

if (!(fuse.run && root.run && git.run)) describe('FUSE mount: real workloads', () => it.skip([fuse, root, git].find((r) => !r.run)!.reason, () => {}));
