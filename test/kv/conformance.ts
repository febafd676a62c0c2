import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../src/kv/bytes.js';
import type { KvEngine } from '../../src/kv/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const s = (x: Buffer | undefined): string | undefined => x?.toString('latin1');

/**
 * The engine contract (src/kv/types.ts) as tests. Every engine runs exactly this suite; `fresh`
 * returns an empty engine, `reopen` (when the engine persists) the same data in a new instance.
 */
export function engineConformance(
  name: string,
  fresh: () => Promise<KvEngine>,
  reopen?: (engine: KvEngine) => Promise<KvEngine>,
): void {
  describe(`kv engine conformance: ${name}`, () => {
    it('sets, gets and clears single keys', async () => {
      const kv = await fresh();
      await kv.transact(async (tx) => {
        tx.set(b('a'), b('1'));
        tx.set(b('b'), b('2'));
      });
      expect(s(await kv.get(b('a')))).toBe('1');
      await kv.transact(async (tx) => tx.clear(b('a')));
      expect(await kv.get(b('a'))).toBeUndefined();
      expect(s(await kv.get(b('b')))).toBe('2');
      await kv.close();
    });

    it('orders keys as unsigned bytes, including 0x00 and 0xff', async () => {
      const kv = await fresh();
      const keys = [Buffer.from([0xff]), Buffer.from([0x00]), Buffer.from([0x00, 0x00]), Buffer.from([0x7f, 0xff]), Buffer.from([0x80])];
      await kv.transact(async (tx) => keys.forEach((k, i) => tx.set(k, Buffer.from([i]))));
      const all = await kv.getRange(Buffer.alloc(0), Buffer.from([0xff, 0xff]));
      expect(all.map((p) => p.key.toString('hex'))).toEqual(['00', '0000', '7fff', '80', 'ff']);
      await kv.close();
    });

    it('reads ranges forward, reverse, with limits, end exclusive', async () => {
      const kv = await fresh();
      await kv.transact(async (tx) => {
        for (const k of ['k1', 'k2', 'k3', 'k4', 'l1']) tx.set(b(k), b(k.toUpperCase()));
      });
      const fwd = await kv.getRange(b('k'), prefixEnd(b('k')));
      expect(fwd.map((p) => s(p.key))).toEqual(['k1', 'k2', 'k3', 'k4']);
      const rev = await kv.getRange(b('k'), prefixEnd(b('k')), { reverse: true, limit: 2 });
      expect(rev.map((p) => s(p.key))).toEqual(['k4', 'k3']);
      expect((await kv.getRange(b('k2'), b('k4'))).map((p) => s(p.value))).toEqual(['K2', 'K3']);
      expect(await kv.getRange(b('k4'), b('k2'))).toEqual([]);
      // a reverse seek: greatest key <= k3
      const seek = await kv.getRange(b('k'), Buffer.concat([b('k3'), Buffer.from([0])]), { reverse: true, limit: 1 });
      expect(s(seek[0]?.key)).toBe('k3');
      await kv.close();
    });

    it('reads any range of binary keys and values as a sorted model does (NUL bytes, empty and 70 KB values)', async () => {
      const kv = await fresh();
      // few distinct bytes, so keys share prefixes and ranges hold several rows
      const key = fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x01, 0x2c, 0x30, 0x7f, 0xff][x % 6]!)));
      const value = fc.oneof(
        { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
        { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => new Uint8Array(n).fill(0x2c)) },
      );
      const rows = fc.sample(fc.uniqueArray(fc.tuple(key, value), { minLength: 1, maxLength: 300, selector: ([k]) => k.toString('hex') }), { numRuns: 1, seed: 5 })[0]!;
      await kv.transact(async (tx) => rows.forEach(([k, v]) => tx.set(k, Buffer.from(v))));
      const model = rows.map(([k, v]) => ({ key: k, value: Buffer.from(v) })).sort((x, y) => Buffer.compare(x.key, y.key));
      await fc.assert(
        fc.asyncProperty(key, key, fc.option(fc.integer({ min: 0, max: 40 })), fc.boolean(), async (begin, end, limit, reverse) => {
          const inRange = model.filter((p) => Buffer.compare(p.key, begin) >= 0 && Buffer.compare(p.key, end) < 0);
          const ordered = reverse ? inRange.reverse() : inRange;
          const expected = limit === null ? ordered : ordered.slice(0, limit);
          const got = await kv.getRange(begin, end, { reverse, ...(limit === null ? {} : { limit }) });
          expect(got.map((p) => p.key.toString('hex'))).toEqual(expected.map((p) => p.key.toString('hex')));
          expect(got.map((p) => p.value.toString('hex'))).toEqual(expected.map((p) => p.value.toString('hex')));
        }),
        { numRuns: 300, seed: 7 },
      );
      await kv.close();
    });

    it('clears ranges', async () => {
      const kv = await fresh();
      await kv.transact(async (tx) => {
        for (const k of ['a1', 'a2', 'a3', 'b1']) tx.set(b(k), b('x'));
      });
      await kv.transact(async (tx) => tx.clearRange(b('a2'), b('b')));
      expect((await kv.getRange(b(''), b('z'))).map((p) => s(p.key))).toEqual(['a1', 'b1']);
      await kv.close();
    });

    it('reads its own writes inside a transaction', async () => {
      const kv = await fresh();
      const seen = await kv.transact(async (tx) => {
        tx.set(b('x'), b('1'));
        const one = s(await tx.get(b('x')));
        tx.clear(b('x'));
        const gone = await tx.get(b('x'));
        tx.set(b('y1'), b('2'));
        const range = (await tx.getRange(b('y'), b('z'))).map((p) => s(p.key));
        return { one, gone, range };
      });
      expect(seen.value).toEqual({ one: '1', gone: undefined, range: ['y1'] });
      await kv.close();
    });

    it('applies nothing when the transaction function throws', async () => {
      const kv = await fresh();
      await kv.transact(async (tx) => tx.set(b('keep'), b('1')));
      await expect(
        kv.transact(async (tx) => {
          tx.set(b('keep'), b('changed'));
          tx.set(b('new'), b('1'));
          tx.clearRange(b('a'), b('z'));
          tx.setVersionstampedKey(b('vs/'), b(''), b('v'));
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(s(await kv.get(b('keep')))).toBe('1');
      expect(await kv.get(b('new'))).toBeUndefined();
      expect(await kv.getRange(b('vs/'), prefixEnd(b('vs/')))).toEqual([]);
      await kv.close();
    });

    it('fills versionstamps at commit, strictly increasing', async () => {
      const kv = await fresh();
      const stamps: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await kv.transact(async (tx) => {
          tx.setVersionstampedKey(b('log/'), b('/end'), b(`v${i}`));
          tx.setVersionstampedValue(b('head'), b('H'), b('T'));
        });
        expect(r.stamp).not.toBeNull();
        stamps.push(r.stamp!);
      }
      for (let i = 1; i < stamps.length; i++) expect(Buffer.compare(stamps[i - 1]!, stamps[i]!)).toBeLessThan(0);
      const log = await kv.getRange(b('log/'), prefixEnd(b('log/')));
      expect(log).toHaveLength(20);
      log.forEach((p, i) => {
        expect(p.key.subarray(4, 14).equals(stamps[i]!)).toBe(true);
        expect(s(p.key.subarray(14))).toBe('/end');
        expect(s(p.value)).toBe(`v${i}`);
      });
      const head = (await kv.get(b('head')))!;
      expect(head.subarray(1, 11).equals(stamps[19]!)).toBe(true);
      expect(s(head.subarray(0, 1))! + s(head.subarray(11))!).toBe('HT');
      const none = await kv.transact(async (tx) => tx.set(b('plain'), b('1')));
      expect(none.stamp).toBeNull();
      await kv.close();
    });

    it('serializes concurrent read-modify-write transactions (no lost update)', async () => {
      const kv = await fresh();
      const inc = () =>
        kv.transact(async (tx) => {
          const cur = Number(s(await tx.get(b('counter'))) ?? '0');
          await new Promise((r) => setImmediate(r)); // yield between read and write
          tx.set(b('counter'), b(String(cur + 1)));
        });
      await Promise.all(Array.from({ length: 50 }, inc));
      expect(s(await kv.get(b('counter')))).toBe('50');
      await kv.close();
    });

    if (reopen) {
      it('keeps committed data and keeps stamps increasing across reopen', async () => {
        const kv = await fresh();
        const first = await kv.transact(async (tx) => {
          tx.set(b('persist'), b('yes'));
          tx.setVersionstampedKey(b('s/'), b(''), b(''));
        });
        const again = await reopen(kv);
        expect(s(await again.get(b('persist')))).toBe('yes');
        const second = await again.transact(async (tx) => tx.setVersionstampedKey(b('s/'), b(''), b('')));
        expect(Buffer.compare(first.stamp!, second.stamp!)).toBeLessThan(0);
        await again.close();
      });
    }
  });
}
