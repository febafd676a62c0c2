/**
 * Stored values. A logical key's value at a version is one of:
 *   tombstone (the key was deleted at that version), bytes, or a reference to a content-addressed
 *   blob. The store must see blob references (rather than opaque bytes) so blob GC can find every
 *   chunk that a version inside retention still uses.
 *
 * Encoding: 0x00 = tombstone; 0x01 ‖ bytes; 0x02 ‖ sha256(32) ‖ size(u32 BE).
 */
export class BlobRef {
  constructor(
    /** sha256 of the content, 64 lowercase hex chars */
    readonly hash: string,
    readonly size: number,
  ) {}
  equals(other: BlobRef): boolean {
    return this.hash === other.hash && this.size === other.size;
  }
}

export type StoreValue = Buffer | BlobRef;

const TOMBSTONE = 0x00;
const BYTES = 0x01;
const BLOB = 0x02;

export function encodeValue(value: StoreValue | null): Buffer {
  if (value === null) return Buffer.from([TOMBSTONE]);
  if (value instanceof BlobRef) {
    const out = Buffer.alloc(37);
    out[0] = BLOB;
    out.write(value.hash, 1, 'hex');
    out.writeUInt32BE(value.size, 33);
    return out;
  }
  return Buffer.concat([Buffer.from([BYTES]), value]);
}

/** null = tombstone. */
export function decodeValue(raw: Buffer): StoreValue | null {
  switch (raw[0]) {
    case TOMBSTONE:
      return null;
    case BYTES:
      return raw.subarray(1);
    case BLOB:
      return new BlobRef(raw.toString('hex', 1, 33), raw.readUInt32BE(33));
    default:
      throw new Error(`corrupt stored value (tag ${raw[0]})`);
  }
}

export const isBlobEncoded = (raw: Buffer): boolean => raw[0] === BLOB;

export function valuesEqual(a: StoreValue | null | undefined, b: StoreValue | null | undefined): boolean {
  if (a == null || b == null) return a == b;
  if (a instanceof BlobRef || b instanceof BlobRef) return a instanceof BlobRef && b instanceof BlobRef && a.equals(b);
  return a.equals(b);
}
