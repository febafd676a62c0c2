import { describe, expect, it } from 'vitest';
import type { KvEngine } from '../../src/kv/types.js';
import { readVersionOf, type Version } from '../../src/store/version.js';
import { makeStore } from '../helpers/store.js';

describe('group commit', () => {
  it('writes concurrent commits of one namespace together, each with its own version, in order, losing nothing', async () => {
    const store = makeStore();
    const ns = await store.createNamespace('g');
    await ns.commit({ actor: 't', summary: 'init' }, async (w) => w.set(['n'], Buffer.from('0')));
    const kv = store.kv as KvEngine & { transactGroup: NonNullable<KvEngine['transactGroup']> };
    let groups = 0;
    const original = kv.transactGroup.bind(kv);
    kv.transactGroup = (fns) => {
      groups++;
      return original(fns);
    };
    // 100 read-modify-write commits issued at once: each must see the one before it
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        ns.commit({ actor: 't', summary: `inc ${i}` }, async (w) => {
          const n = Number((await w.get(['n']))!.toString());
          w.set(['n'], Buffer.from(String(n + 1)));
          w.set(['by', i], Buffer.from(String(n + 1)));
          if (i === 50) throw new Error('this one fails alone');
          return n + 1;
        }).catch((e: Error) => e.message),
      ),
    );
    expect(results[50]).toBe('this one fails alone');
    const values = results.filter((r): r is { value: number; version: Version | null } => typeof r === 'object');
    expect(values.map((r) => r.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    expect(groups).toBeLessThan(50); // they were grouped (1 + a few groups, not 99 transactions)
    // every version is distinct and reads exactly the state after its own commit
    const versions = values.map((r) => r.version!);
    expect(new Set(versions).size).toBe(99);
    for (const r of values) {
      const snap = await ns.snapshot(readVersionOf(r.version!));
      expect((await snap.get(['n']))!.toString()).toBe(String(r.value));
    }
    expect((await (await ns.snapshot()).get(['n']))!.toString()).toBe('99');
    const log = await ns.log({ limit: 200 });
    expect(log.filter((l) => l.summary.startsWith('inc ')).length).toBe(99);
    expect(log.map((l) => l.time)).toEqual([...log.map((l) => l.time)].sort((a, b) => b - a)); // times follow versions
    await store.close();
  });
});
