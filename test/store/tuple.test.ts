import * as tuple from 'fdb-tuple';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack, unpack } from '../../src/store/tuple.js';

const item = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 10 }).map((s) => `${s}\u0000${s}`), // NULs must be escaped
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.maxSafeInteger(),
  fc.integer({ min: -70000, max: 70000 }),
  fc.constantFrom(0, 1, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -255, -256, -(2 ** 53 - 1)),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.double({ noNaN: true }),
);

describe('tuple packing', () => {
  it('is byte-identical to fdb-tuple for every tuple', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), (items) => {
        expect(pack(items).toString('hex')).toBe(tuple.pack(items as tuple.TupleItem[]).toString('hex'));
      }),
      { numRuns: 5000 },
    );
  });

  it('unpacks what fdb-tuple unpacks, for every tuple', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), (items) => {
        const packed = tuple.pack(items as tuple.TupleItem[]);
        expect(unpack(packed)).toStrictEqual(tuple.unpack(packed));
      }),
      { numRuns: 5000 },
    );
    // the edges of the fast path: escaped NULs, seven-byte integers on either side of 2^53
    for (const items of [['a\u0000b', 1], [Buffer.from([0, 0xff, 0])], [2 ** 53 - 1, -(2 ** 53 - 1)], [2n ** 53n, -(2n ** 53n)], [2 ** 48, -(2 ** 48)], [0, -1, 1]]) {
      const packed = tuple.pack(items as tuple.TupleItem[]);
      expect(unpack(packed)).toStrictEqual(tuple.unpack(packed));
    }
  });

  it('handles tuples larger than its scratch buffer', () => {
    const long = ['x'.repeat(10_000), Buffer.alloc(5000, 0), 'é'.repeat(3000)];
    expect(pack(long).equals(tuple.pack(long))).toBe(true);
    expect(pack(['a', 1]).equals(tuple.pack(['a', 1]))).toBe(true);
  });
});
