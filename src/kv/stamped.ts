import { makeStamp } from './bytes.js';
import type { KvTransaction } from './types.js';

/** A versionstamped write waiting for its commit stamp. */
export type PendingStamped =
  | { kind: 'key'; prefix: Buffer; suffix: Buffer; value: Buffer }
  | { kind: 'value'; key: Buffer; prefix: Buffer; suffix: Buffer };

/**
 * Next commit version for the embedded engines: max(previous + 1, unix time in µs), so versions are
 * strictly monotonic and read roughly as a clock (DESIGN.md, store/).
 */
export function nextCommitVersion(previous: bigint, nowMicros: bigint): bigint {
  return nowMicros > previous ? nowMicros : previous + 1n;
}

export const nowMicros = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));

/** Resolves pending versionstamped writes into plain (key, value) pairs for one commit version. */
export function resolveStamped(pending: PendingStamped[], commitVersion: bigint): Array<[Buffer, Buffer]> {
  const stamp = makeStamp(commitVersion, 0);
  return pending.map((p) =>
    p.kind === 'key'
      ? [Buffer.concat([p.prefix, stamp, p.suffix]), p.value]
      : [p.key, Buffer.concat([p.prefix, stamp, p.suffix])],
  );
}

/** Shared bookkeeping for engines that collect versionstamped writes until commit. */
export abstract class StampCollector implements Pick<KvTransaction, 'setVersionstampedKey' | 'setVersionstampedValue'> {
  readonly pending: PendingStamped[] = [];
  /** `value` is kept, not copied, until the commit: the caller must not change it (file data is big). */
  setVersionstampedKey(prefix: Buffer, suffix: Buffer, value: Buffer): void {
    this.pending.push({ kind: 'key', prefix: Buffer.from(prefix), suffix: Buffer.from(suffix), value });
  }
  setVersionstampedValue(key: Buffer, prefix: Buffer, suffix: Buffer): void {
    this.pending.push({ kind: 'value', key: Buffer.from(key), prefix: Buffer.from(prefix), suffix: Buffer.from(suffix) });
  }
}
