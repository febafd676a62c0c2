import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitTime, write64, writeAttr } from '../../src/fuse/kernel/abi.js';

describe('FUSE structure encoding', () => {
  it('writes 64-bit fields as writeBigInt64LE does, for every safe integer', () => {
    const check = (n: number): void => {
      const ours = Buffer.alloc(8);
      const theirs = Buffer.alloc(8);
      write64(ours, n, 0);
      theirs.writeBigInt64LE(BigInt(n), 0);
      expect(ours.toString('hex'), String(n)).toBe(theirs.toString('hex'));
    };
    fc.assert(fc.property(fc.maxSafeInteger(), check), { numRuns: 5000 });
    for (const n of [0, 1, -1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1)]) check(n);
  });

  it('writes times before 1970 as negative seconds with nanoseconds counted forward', () => {
    expect(splitTime(-1500.25)).toEqual([-2, 499_750_000]);
    const b = Buffer.alloc(88);
    writeAttr(b, 0, { ino: 7, size: 2 ** 40, blocks: 3, atimeMs: -1500.25, mtimeMs: 1_700_000_000_123, ctimeMs: 0, mode: 0o100644, nlink: 1, uid: 1000, gid: 1000, rdev: 0 });
    expect([b.readBigUInt64LE(0), b.readBigUInt64LE(8), b.readBigInt64LE(24), b.readBigInt64LE(32), b.readUInt32LE(48), b.readUInt32LE(52)]).toEqual([7n, 2n ** 40n, -2n, 1_700_000_000n, 499_750_000, 123_000_000]);
  });
});
