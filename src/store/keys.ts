import { prefixEnd } from '../kv/bytes.js';
import * as tuple from './tuple.js';

/**
 * The store's key layout in the kv engine. Prefixes are tuple-encoded; stamps and times are appended
 * raw (fixed width), so order is byte order everywhere:
 *
 *   ('c', 'ns')                                → next namespace id (JSON number)
 *   ('r', name)                                → namespace record (JSON)
 *   ('n', id, 'm', 'head')                     → head stamp(10) ‖ commit time µs (8, BE)
 *   ('n', id, 'm', 'wm')                       → GC watermark stamp(10)
 *   ('n', id, 'l') ‖ stamp                     → commit-log record (JSON)
 *   ('n', id, 't') ‖ time µs(8) ‖ stamp        → '' (time index)
 *   ('n', id, 'p') ‖ stamp                     → pin label (UTF-8)
 *   ('n', id, 'k') ‖ pack(K) ‖ 0x00 ‖ stamp    → encoded value of logical key K at that stamp
 *
 * Invariant for data keys: logical keys never contain null, so every element of pack(K) starts with a
 * type code >= 0x01. Hence all versions of K lie in [pack(K) ‖ 0x00, pack(K) ‖ 0x01) — strictly
 * before any longer key K' that extends K — and reading K at S is one reverse seek below
 * pack(K) ‖ 0x00 ‖ S ‖ 0x00.
 */
export type KeyPart = string | number | bigint | Buffer;
export type LogicalKey = readonly KeyPart[];

const pack = (items: readonly unknown[]): Buffer => tuple.pack(items);

export const STAMP_LEN = 10;
const SEP = Buffer.from([0x00]);

export const nsCounterKey = pack(['c', 'ns']);
/**
 * Stamped by every transaction that changes a namespace's meta outside a commit (GC raising a
 * watermark, deleting a namespace), so the engine's newest commit version moves and every process
 * re-reads the meta it cached (Namespace.currentMeta).
 */
export const changeKey = pack(['c', 'change']);
export const registryKey = (name: string): Buffer => pack(['r', name]);
export const registryPrefix = pack(['r']);
/** The namespace name a registry key belongs to. */
export const registryNameOf = (key: Buffer): string => (tuple.unpack(key) as [string, string])[1];
/**
 * A namespace's fixed keys, packed once per namespace id: every commit and every uncached read
 * builds several of them (head, watermark, log, time index, data prefix), and packing them anew
 * was ~5% of a FUSE `git add`'s CPU. Ids are never reused, so a cached key is never wrong; the
 * cache is dropped whole past MAX_CACHED_NAMESPACES to stay bounded with thousands of agents.
 * Invariant: callers never write into the returned buffers (they concatenate or copy them).
 */
function perNamespace(tail: readonly string[]): (id: number) => Buffer {
  const cache = new Map<number, Buffer>();
  return (id) => {
    let key = cache.get(id);
    if (!key) {
      if (cache.size >= MAX_CACHED_NAMESPACES) cache.clear();
      key = pack(['n', id, ...tail]);
      cache.set(id, key);
    }
    return key;
  };
}
const MAX_CACHED_NAMESPACES = 16_384;

export const namespacePrefix = (id: number): Buffer => pack(['n', id]);
export const metaPrefix = perNamespace(['m']);
export const headKey = perNamespace(['m', 'head']);
export const watermarkKey = perNamespace(['m', 'wm']);
export const logPrefix = perNamespace(['l']);
export const timePrefix = perNamespace(['t']);
export const pinPrefix = perNamespace(['p']);
export const dataPrefix = perNamespace(['k']);

export function packLogical(key: LogicalKey): Buffer {
  for (const part of key) {
    if (part === null || part === undefined) throw new TypeError('logical keys may not contain null/undefined');
  }
  return pack(key);
}

export const unpackLogical = (bytes: Buffer): KeyPart[] => tuple.unpack(bytes) as KeyPart[];

/** The index of the first of `items` (sorted by packed key, `keyOf`) whose key is >= `packed`, from index `from` on. */
export function lowerBound<T>(items: readonly T[], packed: Buffer, keyOf: (item: T) => Buffer, from = 0): number {
  let lo = from;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(keyOf(items[mid]!), packed) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Every kv key holding a version of K starts with this. */
export const dataKeyBase = (id: number, packedLogical: Buffer): Buffer => Buffer.concat([dataPrefix(id), packedLogical, SEP]);

/** The end (exclusive) of a reverse seek for K at snapshot `stamp`. */
export const dataSeekEnd = (base: Buffer, stamp: Buffer): Buffer => Buffer.concat([base, stamp, SEP]);

/** [begin, end) of every version of every logical key that starts with the tuple `prefix`. */
export function dataRange(id: number, prefix: LogicalKey): { begin: Buffer; end: Buffer } {
  const begin = Buffer.concat([dataPrefix(id), packLogical(prefix)]);
  return { begin, end: prefixEnd(begin) };
}

export function timeBytes(micros: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(micros < 0n ? 0n : micros);
  return b;
}

export { prefixEnd };
