import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALLOC_TUNABLES, withMallocTunables } from '../../src/cli/tunables.js';
import { CLI, cliBuilt } from '../helpers/cli.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const built = requirement(cliBuilt(), 'the built CLI (dist/; `npm test` builds it first)');
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

/**
 * Prints the minor page faults of what reading a file's chunks does to memory: N Buffers of 1 MiB
 * (N the first argument) allocated, filled and freed one after another.
 */
const FAULTS = `
const n = Number(process.argv[2]);
const before = process.resourceUsage().minorPageFault;
for (let i = 0; i < n; i++) { let b = Buffer.allocUnsafeSlow(1 << 20); b.fill(i); b = null; globalThis.gc(); }
console.log(process.resourceUsage().minorPageFault - before);
`;

describe.runIf(built.run)('malloc tunables', () => {
  const shebang = (): string => fs.readFileSync(CLI, 'utf8').split('\n')[0]!;

  it('the timefs bin and the npm scripts start node with them', () => {
    expect(shebang()).toBe(`#!/usr/bin/env -S GLIBC_TUNABLES=${MALLOC_TUNABLES}:\${GLIBC_TUNABLES} node`);
    expect(pkg.scripts.start).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES}:$GLIBC_TUNABLES node dist/cli/main.js serve`);
    expect(pkg.scripts.timefs).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES}:$GLIBC_TUNABLES node dist/cli/main.js`);
  });

  it('the bin runs as a command: the build makes it executable, and its shebang finds node', () => {
    expect(fs.statSync(CLI).mode & 0o111).toBe(0o111);
    const version = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(execFileSync(CLI, ['--version'], { env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` } }).toString().trim()).toContain(version);
  });

  it("keeps the user's own GLIBC_TUNABLES after ours, so theirs win where both set one", () => {
    // the shebang's command line, printing the environment node got
    const got = (env: NodeJS.ProcessEnv): string =>
      execFileSync('/usr/bin/env', ['-S', `${shebang().slice('#!/usr/bin/env -S '.length)} -e console.log(process.env.GLIBC_TUNABLES)`], { env }).toString().trim();
    const { GLIBC_TUNABLES: _, ...rest } = process.env;
    expect(got(rest)).toBe(`${MALLOC_TUNABLES}:`); // unset: a trailing ':' (glibc skips the empty entry)
    expect(got({ ...rest, GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536' })).toBe(`${MALLOC_TUNABLES}:glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536`);
    // and npm start / npm run timefs the same, through sh
    const npmLike = (script: string, env: NodeJS.ProcessEnv): string =>
      execFileSync('sh', ['-c', script.replace('node dist/cli/main.js', 'printenv GLIBC_TUNABLES #')], { env }).toString().trim();
    for (const script of [pkg.scripts.start!, pkg.scripts.timefs!]) {
      expect(npmLike(script, { ...rest, GLIBC_TUNABLES: 'glibc.rtld.nns=2' })).toBe(`${MALLOC_TUNABLES}:glibc.rtld.nns=2`);
    }
  });

  it("a node started by the bin's shebang reuses freed 1 MiB buffers: more of them cost no more page faults", () => {
    const script = path.join(tempDir('tunables'), 'faults.cjs');
    fs.writeFileSync(script, FAULTS);
    const faults = (args: string[], n: number): number => Number(execFileSync('/usr/bin/env', [...args, script, String(n)]).toString().trim());
    // the shebang's own command line, with gc exposed and our script instead of the CLI
    const tuned = ['-S', `${shebang().slice('#!/usr/bin/env -S '.length)} --expose-gc`];
    const plain = ['-u', 'GLIBC_TUNABLES', process.execPath, '--expose-gc'];
    // What the first buffer and the collector fault is the same for any number of buffers (about
    // 550 here); what grows with the number is what each new buffer faults. Comparing growth, not
    // totals, keeps the test off that fixed part, which made a ratio of totals flaky (stop 29's CI:
    // 553 against 1554, under 3x).
    const growth = (args: string[]): number => faults(args, 256) - faults(args, 64);
    const plainGrowth = growth(plain);
    // A loaded machine adds faults of its own (279 once for 192 buffers with three busy processes);
    // the best of three shows what the allocator does.
    const tunedGrowth = Math.min(growth(tuned), growth(tuned), growth(tuned));
    // 192 MiB more touched without the tunables: glibc maps and unmaps each buffer, so its pages
    // fault anew (12,000-24,000 here; the CI machine faults fewer: 1,554 in all for 64 buffers)
    expect(plainGrowth).toBeGreaterThan(192 * 4);
    // with them a freed buffer is reused: next to nothing per added buffer (3 here, idle)
    expect(tunedGrowth * 4).toBeLessThan(plainGrowth);
    expect(tunedGrowth).toBeLessThan(192 * 2);
  });

  it("are put before the caller's own in the environment of processes started from code, once", () => {
    expect(withMallocTunables({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: MALLOC_TUNABLES });
    expect(withMallocTunables({ GLIBC_TUNABLES: 'glibc.rtld.nns=2' }).GLIBC_TUNABLES).toBe(`${MALLOC_TUNABLES}:glibc.rtld.nns=2`);
    expect(withMallocTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe(`${MALLOC_TUNABLES}:glibc.malloc.arena_max=2`);
    const child = { GLIBC_TUNABLES: `${MALLOC_TUNABLES}:glibc.rtld.nns=2` }; // a child of the bin
    expect(withMallocTunables(child)).toBe(child);
  });
});
