/** Byte-string helpers shared by the engines and the key codecs. */

export const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

/**
 * The first key greater than every key that starts with `prefix` (FoundationDB's strinc):
 * strip trailing 0xff bytes, then increment the last byte.
 */
export function prefixEnd(prefix: Buffer): Buffer {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) throw new RangeError('prefixEnd: a prefix of only 0xff bytes has no end key');
  const out = Buffer.from(prefix.subarray(0, end));
  out[end - 1] = out[end - 1]! + 1;
  return out;
}

export const concatBytes = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);

/** Encodes a commit version (< 2^64) and batch order as the 10-byte stamp. */
export function makeStamp(commitVersion: bigint, batch = 0): Buffer {
  const b = Buffer.alloc(10);
  b.writeBigUInt64BE(commitVersion, 0);
  b.writeUInt16BE(batch, 8);
  return b;
}

export const stampCommitVersion = (stamp: Buffer): bigint => stamp.readBigUInt64BE(0);
