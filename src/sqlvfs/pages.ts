import zlib from 'node:zlib';

/**
 * How a database page is stored: SQLite pages are mostly free space and repeated structure, so
 * each stored page version is deflated (level 1: ~20 µs for 4 KiB) when that saves space. The
 * first byte says which. Measured in bench/sql.ts: a one-row insert stores ~1.3 KiB instead of
 * ~12 KiB of page copies.
 */
export const PAGE_SIZE = 4096;

const RAW = 0;
const DEFLATE = 1;

/** A 4 KiB window and level 1: ~30 µs per page (the defaults allocate 256 KiB per call: ~100 µs). */
const DEFLATE_OPTIONS = { level: 1, windowBits: 12, memLevel: 8 } as const;

export function encodePage(page: Uint8Array): Buffer {
  const deflated = zlib.deflateRawSync(page, DEFLATE_OPTIONS);
  if (deflated.length + 1 < page.length) return Buffer.concat([Buffer.from([DEFLATE]), deflated]);
  return Buffer.concat([Buffer.from([RAW]), page]);
}

export function decodePage(stored: Buffer): Buffer {
  if (stored[0] === DEFLATE) return zlib.inflateRawSync(stored.subarray(1));
  return stored.subarray(1);
}
