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
 * Prints the minor page faults of what reading a file's chunks does to memory: 64 Buffers of 1 MiB
 * allocated, filled and freed one after another.
 */
const FAULTS = `
const before = process.resourceUsage().minorPageFault;
for (let i = 0; i < 64; i++) { let b = Buffer.allocUnsafeSlow(1 << 20); b.fill(i); b = null; globalThis.gc(); }
console.log(process.resourceUsage().minorPageFault - before);
`;

describe.runIf(built.run)('malloc tunables', () => {
  const shebang = (): string => fs.readFileSync(CLI, 'utf8').split('\n')[0]!;

  it('the timefs bin and the npm scripts start node with them', () => {
    expect(shebang()).toBe(`#!/usr/bin/env -S GLIBC_TUNABLES=${MALLOC_TUNABLES}:\${GLIBC_TUNABLES} node`);
    expect(pkg.scripts.start).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES}:$GLIBC_TUNABLES node dist/cli/main.js serve`);
    expect(pkg.scripts.timefs).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES}:$GLIBC_TUNABLES node dist/cli/main.js`);
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

  it('a node started by the bin\'s shebang reuses freed 1 MiB buffers: a third of the page faults or fewer', () => {
    const script = path.join(tempDir('tunables'), 'faults.cjs');
    fs.writeFileSync(script, FAULTS);
    const faults = (args: string[]): number => Number(execFileSync('/usr/bin/env', args).toString().trim());
    // the shebang's own command line, with gc exposed and our script instead of the CLI
    const tuned = faults(['-S', `${shebang().slice('#!/usr/bin/env -S '.length)} --expose-gc ${script}`]);
    const plain = faults(['-u', 'GLIBC_TUNABLES', process.execPath, '--expose-gc', script]);
    expect(plain).toBeGreaterThan(1000); // 64 MiB touched: at least some of its 16,384 pages fault
    expect(tuned * 3).toBeLessThan(plain);
  });

  it("are put before the caller's own in the environment of processes started from code, once", () => {
    expect(withMallocTunables({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: MALLOC_TUNABLES });
    expect(withMallocTunables({ GLIBC_TUNABLES: 'glibc.rtld.nns=2' }).GLIBC_TUNABLES).toBe(`${MALLOC_TUNABLES}:glibc.rtld.nns=2`);
    expect(withMallocTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe(`${MALLOC_TUNABLES}:glibc.malloc.arena_max=2`);
    const child = { GLIBC_TUNABLES: `${MALLOC_TUNABLES}:glibc.rtld.nns=2` }; // a child of the bin
    expect(withMallocTunables(child)).toBe(child);
  });
});
