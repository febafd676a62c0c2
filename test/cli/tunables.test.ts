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
    expect(shebang()).toBe(`#!/usr/bin/env -S GLIBC_TUNABLES=${MALLOC_TUNABLES} node`);
    expect(pkg.scripts.start).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/cli/main.js serve`);
    expect(pkg.scripts.timefs).toBe(`GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/cli/main.js`);
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

  it('are added to the environment of processes started from code, unless malloc tunables are set', () => {
    expect(withMallocTunables({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: MALLOC_TUNABLES });
    expect(withMallocTunables({ GLIBC_TUNABLES: 'glibc.rtld.nns=2' }).GLIBC_TUNABLES).toBe(`glibc.rtld.nns=2:${MALLOC_TUNABLES}`);
    const own = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' };
    expect(withMallocTunables(own)).toBe(own);
  });
});
