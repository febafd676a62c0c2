import * as tuple from 'fdb-tuple';

/**
 * FoundationDB tuple packing, fast for the tuples the store builds on every read and write
 * (strings, byte strings and safe integers — inode numbers, names, block indexes), and the
 * `fdb-tuple` library for anything else. fdb-tuple appends one byte at a time and was ~70 µs of
 * every WebDAV PUT; this writes into a reused scratch buffer.
 *
 * Invariant: the output is byte-identical to `tuple.pack` for every input (property-tested against
 * the library in test/store/tuple.test.ts), so keys written by either path are the same keys.
 */
const STRING = 0x02;
const BYTES = 0x01;
const INT_ZERO = 0x14;

let scratch = Buffer.allocUnsafe(4096);

function byteLen(n: number): number {
  let len = 0;
  while (n > 0) {
    len++;
    n = Math.floor(n / 256);
  }
  return len;
}

export function pack(items: readonly unknown[]): Buffer {
  let pos = 0;
  const need = (n: number): boolean => pos + n <= scratch.length;
  for (const item of items) {
    if (typeof item === 'string') {
      // worst case 3 UTF-8 bytes per UTF-16 unit, plus code and terminator
      if (!need(item.length * 3 + 2)) return slow(items);
      scratch[pos++] = STRING;
      const n = scratch.write(item, pos, 'utf8');
      if (scratch.subarray(pos, pos + n).includes(0)) return slow(items); // NUL needs escaping: rare
      pos += n;
      scratch[pos++] = 0;
    } else if (Buffer.isBuffer(item)) {
      if (!need(item.length * 2 + 2)) return slow(items);
      scratch[pos++] = BYTES;
      for (let i = 0; i < item.length; i++) {
        const b = item[i]!;
        scratch[pos++] = b;
        if (b === 0) scratch[pos++] = 0xff;
      }
      scratch[pos++] = 0;
    } else if (typeof item === 'number' && Number.isSafeInteger(item) && !Object.is(item, -0)) {
      if (!need(9)) return slow(items);
      const abs = Math.abs(item);
      const len = byteLen(abs);
      scratch[pos++] = INT_ZERO + (item < 0 ? -len : len);
      // big-endian magnitude; negative integers are stored in ones' complement
      for (let i = len - 1; i >= 0; i--) {
        const byte = Math.floor(abs / 2 ** (8 * i)) % 256;
        scratch[pos++] = item < 0 ? 255 - byte : byte;
      }
    } else {
      return slow(items);
    }
  }
  return Buffer.from(scratch.subarray(0, pos));
}

function slow(items: readonly unknown[]): Buffer {
  const out = tuple.pack(items as tuple.TupleItem[]);
  if (out.length > scratch.length && out.length <= 1 << 20) scratch = Buffer.allocUnsafe(out.length * 2);
  return out;
}

/**
 * Unpacks a tuple: fast for what pack() writes fast (strings, byte strings, integers up to 2^53),
 * `fdb-tuple` for anything else (NUL escapes, other types, bigger integers). fdb-tuple decodes
 * through a generic reader and was ~2.5 µs of every key a scan returns (a directory listing
 * unpacks one per entry). Invariant: equal to `tuple.unpack` for every input (property-tested).
 */
export function unpack(bytes: Buffer): unknown[] {
  const out: unknown[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const code = bytes[pos]!;
    if (code === STRING || code === BYTES) {
      const end = bytes.indexOf(0, pos + 1);
      // no terminator, or an escaped NUL (0x00 0xff) inside: the library's job
      if (end < 0 || bytes[end + 1] === 0xff) return slowUnpack(bytes);
      out.push(code === STRING ? bytes.toString('utf8', pos + 1, end) : Buffer.from(bytes.subarray(pos + 1, end)));
      pos = end + 1;
    } else if (code >= INT_ZERO - 7 && code <= INT_ZERO + 7) {
      const len = Math.abs(code - INT_ZERO);
      if (pos + 1 + len > bytes.length) return slowUnpack(bytes);
      let magnitude = 0;
      for (let i = 1; i <= len; i++) {
        const byte = bytes[pos + i]!;
        magnitude = magnitude * 256 + (code < INT_ZERO ? 255 - byte : byte);
      }
      // seven bytes may exceed 2^53 (the library decides what that becomes); a negative zero
      // is no valid encoding
      if (magnitude > Number.MAX_SAFE_INTEGER || (magnitude === 0 && code !== INT_ZERO)) return slowUnpack(bytes);
      out.push(code < INT_ZERO ? -magnitude : magnitude);
      pos += 1 + len;
    } else {
      return slowUnpack(bytes);
    }
  }
  return out;
}

function slowUnpack(bytes: Buffer): unknown[] {
  return tuple.unpack(bytes) as unknown[];
}
