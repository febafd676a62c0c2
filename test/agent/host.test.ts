import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agent/host.js';
import { AgentFs } from '../../src/fs/agentfs.js';
import { makeStore } from '../helpers/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AgentHost', () => {
  it('runs one agent’s calls one at a time in order, and different agents concurrently', async () => {
    const host = new AgentHost(makeStore(), { create: true });
    const events: string[] = [];
    const job = (agent: string, id: string) =>
      host.run(agent, async () => {
        events.push(`${id}+`);
        await sleep(30);
        events.push(`${id}-`);
      });
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1'), job('b', 'b2')]);
    // per agent: strictly sequential
    expect(events.indexOf('a1-')).toBeLessThan(events.indexOf('a2+'));
    expect(events.indexOf('b1-')).toBeLessThan(events.indexOf('b2+'));
    // across agents: overlapping (a1 and b1 both started before either ended)
    expect(events.indexOf('b1+')).toBeLessThan(events.indexOf('a1-'));
    // a failing call does not block the next one
    await expect(host.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect((await host.call('a', 'Write', { path: '/ok', content: 'fine' })).isError).toBe(false);
    await host.close();
  });

  it('opens agents on demand and closes them when idle or past maxOpen', async () => {
    const store = makeStore();
    const host = new AgentHost(store, { create: true, maxOpen: 3, idleMs: 1000 });
    for (const a of ['a1', 'a2', 'a3', 'a4', 'a5']) await host.call(a, 'Write', { path: '/f', content: a });
    expect(host.openCount).toBe(3);
    // evicted agents reopen transparently with their data
    expect((await host.call('a1', 'Read', { path: '/f' })).text).toBe('a1');
    expect(host.sweep(Date.now() + 5000)).toBe(3);
    expect(host.openCount).toBe(0);
    expect((await host.call('a2', 'Read', { path: '/f' })).text).toBe('a2');
    await host.close();
  });

  it('an unknown agent is a clear error unless the host creates agents', async () => {
    const host = new AgentHost(makeStore());
    await expect(host.call('nobody', 'List', { path: '/' })).rejects.toThrow(/unknown agent 'nobody': create it first/);
    await host.close();
  });

  it('isolation: no path or version an agent passes reaches another agent’s files, versions or transcript (fuzzed)', async () => {
    const store = makeStore();
    const host = new AgentHost(store, { create: true });
    const bob = await AgentFs.open(store, 'bob', { create: true });
    await bob.writeFile('/bob-only-dir/bob-only-file.txt', 'BOB-SECRET-CONTENT', { parents: true });
    await bob.putRecords('transcript', [[['transcript', 'm', 's1', 0], Buffer.from('BOB-SECRET-TRANSCRIPT')]]);
    const bobVersions = [await bob.head(), ...(await bob.log({ limit: 10 })).map((r) => r.version.toString())];
    await host.call('alice', 'Write', { path: '/mine.txt', content: 'alice data' });
    const bobHead = await bob.head();

    // bob's names never appear in the fuzzed paths, so any 'bob-only' in a result is a leak, not an echo
    const pathPart = fc.constantFrom('..', '.', 'bob', 'agent:bob', 'agent:bob/', 'transcript', 'auth', '%2e%2e', '', 'mine.txt', '\u0000', '~', 'dav', 'agent:', '*', '**', 'e', 'i');
    const pathArb = fc
      .tuple(fc.array(pathPart, { maxLength: 6 }), fc.option(fc.constantFrom(...bobVersions, '2026-11-20T12:00:00Z', 'ffffffffffffffffffff'), { nil: undefined }))
      .map(([parts, sel]) => `/${parts.join('/')}${sel ? `@${sel}` : ''}`);
    const versionArb = fc.option(fc.constantFrom(...bobVersions, '00000000000000000000', 'yesterday', '1 minute ago', 'x'), { nil: undefined });
    const callArb = fc.oneof(
      fc.record({ tool: fc.constant('Read'), args: fc.record({ path: pathArb, version: versionArb }, { requiredKeys: ['path'] }) }),
      fc.record({ tool: fc.constant('List'), args: fc.record({ path: pathArb, version: versionArb }, { requiredKeys: ['path'] }) }),
      fc.record({ tool: fc.constant('Glob'), args: fc.record({ pattern: fc.constantFrom('**', '../**', '/**/*', '**/bob*'), path: pathArb, version: versionArb }, { requiredKeys: ['pattern'] }) }),
      fc.record({ tool: fc.constant('Grep'), args: fc.record({ pattern: fc.constantFrom('BOB', 'SECRET', '.', 'bob'), path: pathArb, version: versionArb }, { requiredKeys: ['pattern'] }) }),
      fc.record({ tool: fc.constant('Stat'), args: fc.record({ path: pathArb, version: versionArb }, { requiredKeys: ['path'] }) }),
      fc.record({ tool: fc.constant('Copy'), args: fc.record({ src_path: pathArb, dst_path: pathArb, src_version: versionArb }, { requiredKeys: ['src_path', 'dst_path'] }) }),
      fc.record({ tool: fc.constant('History'), args: fc.record({ path: pathArb }) }),
      fc.record({ tool: fc.constant('Diff'), args: fc.record({ path: pathArb, from_version: fc.constantFrom(...bobVersions) }) }),
      fc.record({ tool: fc.constant('Delete'), args: fc.record({ path: pathArb, recursive: fc.boolean() }) }),
      fc.record({ tool: fc.constant('Move'), args: fc.record({ src_path: pathArb, dst_path: pathArb }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 8 }), async (calls) => {
        for (const c of calls) {
          const r = await host.call('alice', c.tool, c.args);
          expect(r.text).not.toMatch(/BOB-SECRET|bob-only/);
        }
      }),
      { numRuns: 150 },
    );
    // bob is untouched, alice's history never mentions bob's files
    expect(await bob.head()).toBe(bobHead);
    expect((await bob.readFile('/bob-only-dir/bob-only-file.txt')).toString()).toBe('BOB-SECRET-CONTENT');
    const aliceLog = JSON.stringify(await (await AgentFs.open(store, 'alice')).log({ limit: 10_000 }));
    expect(aliceLog).not.toMatch(/bob-only|BOB-SECRET/);
    await host.close();
  });
});
