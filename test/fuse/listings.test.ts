import { describe, expect, it } from 'vitest';
import { Listings } from '../../src/fuse/kernel/listings.js';

describe('Listings (directory listings read without handles)', () => {
  it('an offset it gave continues the same listing, of the same directory only', () => {
    const l = new Listings<string>();
    const a = l.add(7, ['.', '..', 'x', 'y']);
    const b = l.add(7, ['.', '..', 'y']); // a second reader of the same directory, after a change
    const after = l.offsetAfter(a, 2);
    expect(after).toBeGreaterThan(0);
    expect(l.find(7, after)).toEqual({ listing: a, index: 3 });
    expect(l.find(7, l.offsetAfter(b, 0))).toEqual({ listing: b, index: 1 });
    expect(l.find(8, after).listing).toBeNull(); // another directory never gets it
    expect(l.find(7, 0).listing).toBeNull(); // offset 0: from the start, a fresh listing
    l.drop(a);
    expect(l.find(7, after)).toEqual({ listing: null, index: 3 }); // dropped: the index still says where
    expect(l.size).toEqual({ listings: 1, entries: 3 });
  });

  it('keeps at most 256 listings and a million entries, dropping the oldest, never the newest', () => {
    const l = new Listings<number>();
    const first = l.add(1, [1]);
    for (let i = 0; i < 256; i++) l.add(2, [i]);
    expect(l.find(1, l.offsetAfter(first, 0)).listing).toBeNull();
    expect(l.size).toEqual({ listings: 256, entries: 256 });
    const big = l.add(3, new Array<number>(999_900).fill(0));
    expect(l.size.entries).toBeLessThanOrEqual(1_000_000);
    expect(l.find(3, l.offsetAfter(big, 5)).listing).toBe(big);
    const huge = l.add(4, new Array<number>(1_500_000).fill(0)); // over the bound alone: kept, being read
    expect(l.size).toEqual({ listings: 1, entries: 1_500_000 });
    expect(l.find(4, l.offsetAfter(huge, 0)).listing).toBe(huge);
  });

  it('ids wrap without ever making offset 0 or an inexact number', () => {
    const l = new Listings<number>();
    let max = 0;
    let min = Infinity;
    for (let i = 0; i < 2 ** 20 + 5; i++) {
      const x = l.add(1, [0]);
      const off = l.offsetAfter(x, 0);
      min = Math.min(min, off);
      max = Math.max(max, off);
      l.drop(x);
    }
    expect(min).toBeGreaterThan(2 ** 32); // id 0 is never given
    expect(Number.isSafeInteger(max + 2 ** 32)).toBe(true);
  });
});
