import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriteBatch, type BatchBase } from '../../src/store/batch.js';
import { packLogical, unpackLogical, type LogicalKey } from '../../src/store/keys.js';
import type { Entry, ListOptions } from '../../src/store/snapshot.js';
import type { StoreValue } from '../../src/store/values.js';
import type { Version } from '../../src/store/version.js';

/** A committed state as a sorted map: what a batch reads through. */
function baseOf(entries: Map<string, Buffer>): BatchBase {
  const sorted = (): Entry[] =>
    [...entries]
      .map(([id, value]) => ({ packed: Buffer.from(id, 'latin1'), value }))
      .sort((a, b) => Buffer.compare(a.packed, b.packed))
      .map((e) => ({ key: unpackLogical(e.packed), packed: e.packed, value: e.value as StoreValue }));
  return {
    version: '0000000000000001ffff' as Version,
    getPacked: async (packed) => entries.get(packed.toString('latin1')),
    list: async (prefix: LogicalKey, options: ListOptions = {}) => {
      const p = packLogical(prefix);
      const after = options.after ? packLogical(options.after) : null;
      const out = sorted().filter((e) => e.packed.subarray(0, p.length).equals(p) && (!after || Buffer.compare(e.packed, after) > 0));
      return options.limit !== undefined ? out.slice(0, options.limit) : out;
    },
  };
}

describe('WriteBatch', () => {
  it("lists what a model of base plus writes lists, with writes and lists interleaved (the key order kept between lists)", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), dir: fc.integer({ min: 1, max: 3 }), name: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('delete' as const), dir: fc.integer({ min: 1, max: 3 }), name: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('list' as const), dir: fc.integer({ min: 1, max: 3 }), limit: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 20 }), fc.array(op, { maxLength: 120 }), async (baseNames, ops) => {
        const committed = new Map<string, Buffer>();
        for (const n of baseNames) committed.set(packLogical(['e', 2, `f${n}`]).toString('latin1'), Buffer.from(`base ${n}`));
        const model = new Map(committed);
        const batch = new WriteBatch(baseOf(committed), { actor: 'test', summary: 'test' });
        for (const o of ops) {
          if (o.kind === 'list') {
            const p = packLogical(['e', o.dir]);
            const want = [...model]
              .filter(([id]) => Buffer.from(id, 'latin1').subarray(0, p.length).equals(p))
              .sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')))
              .map(([id, v]) => `${unpackLogical(Buffer.from(id, 'latin1')).join('/')}=${v.toString()}`);
            const got = (await batch.list(['e', o.dir], o.limit !== undefined ? { limit: o.limit } : {})).map((e) => `${e.key.join('/')}=${(e.value as Buffer).toString()}`);
            expect(got).toEqual(o.limit !== undefined ? want.slice(0, o.limit) : want);
            continue;
          }
          const key = ['e', o.dir, `f${o.name}`];
          const id = packLogical(key).toString('latin1');
          if (o.kind === 'set') {
            const value = Buffer.from(`v${o.dir}.${o.name}.${model.size}`);
            batch.set(key, value);
            model.set(id, value);
          } else {
            batch.delete(key);
            model.delete(id);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
