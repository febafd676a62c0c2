import { STAMP_LEN, changeKey, dataPrefix, logPrefix, prefixEnd, timeBytes, timePrefix, watermarkKey } from './keys.js';
import type { Namespace } from './namespace.js';
import type { Store } from './store.js';
import { isBlobEncoded } from './values.js';
import { versionFromBytes, versionToBytes, type Version } from './version.js';

export interface GcOptions {
  /** "Now" for retention, ms since epoch (default: the store's clock). */
  now?: number;
  /** Unreferenced chunks younger than this are kept: they may belong to a commit in flight (default 1 h). */
  graceMs?: number;
  /** kv rows per transaction: GC runs in bounded batches next to live writers (default 1000). */
  batchSize?: number;
  /** Only these namespaces (default: all). Chunk sweeping always considers every namespace. */
  namespaces?: string[];
  /** Sweep the blob store after trimming (default true). */
  sweepBlobs?: boolean;
  onProgress?: (event: { phase: 'trim' | 'mark' | 'sweep'; namespace?: string; done: number; total?: number }) => void;
}

export interface GcReport {
  namespaces: number;
  watermarks: Record<string, Version>;
  versionsRemoved: number;
  logRecordsRemoved: number;
  chunksRemoved: number;
  chunksKept: number;
}

export async function collectGarbage(store: Store, options: GcOptions = {}): Promise<GcReport> {
  const now = options.now ?? store.clock();
  const batchSize = options.batchSize ?? 1000;
  const report: GcReport = { namespaces: 0, watermarks: {}, versionsRemoved: 0, logRecordsRemoved: 0, chunksRemoved: 0, chunksKept: 0 };
  const all = await store.listNamespaces();
  const chosen = options.namespaces ? all.filter((n) => options.namespaces!.includes(n.name)) : all;
  for (const [i, info] of chosen.entries()) {
    const ns = await store.namespace(info.name);
    const trimmed = await trimNamespace(store, ns, now, batchSize);
    report.namespaces++;
    if (trimmed) {
      report.watermarks[info.name] = trimmed.watermark;
      report.versionsRemoved += trimmed.versionsRemoved;
      report.logRecordsRemoved += trimmed.logRecordsRemoved;
    }
    options.onProgress?.({ phase: 'trim', namespace: info.name, done: i + 1, total: chosen.length });
  }
  if (options.sweepBlobs !== false) {
    const swept = await sweepBlobs(store, options.graceMs ?? 3600_000, batchSize, options.onProgress);
    report.chunksRemoved = swept.removed;
    report.chunksKept = swept.kept;
  }
  return report;
}

/**
 * Trims one namespace to its retention window. The watermark W is the newest commit at or before
 * now − retention. For every logical key, a version v (followed by version next) is removed when
 * next <= W and no pin falls in [v, next): nobody may read at a version where v is visible. A final
 * tombstone at or below W goes too when nothing older of its key is kept. Everything above W stays.
 *
 * Safe beside live writers: they only add versions above the head, which is >= W, and the
 * watermark is raised before anything is removed, so readers get VERSION_EXPIRED, never partial data.
 */
async function trimNamespace(
  store: Store,
  ns: Namespace,
  now: number,
  batchSize: number,
): Promise<{ watermark: Version; versionsRemoved: number; logRecordsRemoved: number } | null> {
  const kv = store.kv;
  const cutoffMicros = BigInt(Math.floor((now - ns.retentionMs) * 1000));
  const tp = timePrefix(ns.id);
  const at = await kv.getRange(tp, Buffer.concat([tp, timeBytes(cutoffMicros + 1n)]), { reverse: true, limit: 1 });
  if (at.length === 0) return null;
  const timeKeyW = at[0]!.key;
  let W = timeKeyW.subarray(tp.length + 8);
  const previous = await ns.watermark();
  if (previous && Buffer.compare(versionToBytes(previous), W) > 0) W = versionToBytes(previous);

  // 1. raise the watermark and drop log/time-index records below it
  const lp = logPrefix(ns.id);
  const logRecordsRemoved = (await kv.getRange(lp, Buffer.concat([lp, W]))).length;
  await kv.transact(async (tx) => {
    tx.set(watermarkKey(ns.id), Buffer.from(W));
    tx.setVersionstampedValue(changeKey, Buffer.alloc(0), Buffer.alloc(0));
    tx.clearRange(lp, Buffer.concat([lp, W]));
    tx.clearRange(tp, timeKeyW);
  });

  // 2. remove versions nobody can read any more
  const pins = (await ns.pins()).map((p) => versionToBytes(p.version));
  const pinnedIn = (from: Buffer, to: Buffer): boolean =>
    pins.some((p) => Buffer.compare(p, from) >= 0 && Buffer.compare(p, to) < 0);
  const dp = dataPrefix(ns.id);
  const end = prefixEnd(dp);
  let cursor = dp;
  let removed = 0;
  type Row = { key: Buffer; logical: Buffer; stamp: Buffer; tomb: boolean };
  let prev: Row | null = null;
  let keptOlder = false;
  for (;;) {
    const rows = await kv.getRange(cursor, end, { limit: batchSize });
    const doomed: Buffer[] = [];
    const decide = (v: Row, next: Buffer | null): void => {
      const belowW = Buffer.compare(v.stamp, W) <= 0;
      let drop = false;
      if (next && Buffer.compare(next, W) <= 0 && !pinnedIn(v.stamp, next)) drop = true;
      else if (!next && belowW && v.tomb && !keptOlder) drop = true;
      if (drop) doomed.push(v.key);
      else keptOlder = true;
    };
    for (const r of rows) {
      const row: Row = {
        key: r.key,
        logical: r.key.subarray(dp.length, r.key.length - STAMP_LEN - 1),
        stamp: r.key.subarray(r.key.length - STAMP_LEN),
        tomb: r.value[0] === 0x00,
      };
      if (prev) {
        const same = prev.logical.equals(row.logical);
        decide(prev, same ? row.stamp : null);
        if (!same) keptOlder = false;
      }
      prev = row;
    }
    const done = rows.length < batchSize;
    if (done && prev) decide(prev, null);
    if (doomed.length > 0) {
      await kv.transact(async (tx) => doomed.forEach((k) => tx.clear(k)));
      removed += doomed.length;
    }
    if (done) break;
    cursor = Buffer.concat([rows[rows.length - 1]!.key, Buffer.from([0x00])]);
  }
  return { watermark: versionFromBytes(W), versionsRemoved: removed, logRecordsRemoved };
}

/** Mark every chunk referenced by any stored version of any namespace; delete the rest past the grace period. */
async function sweepBlobs(
  store: Store,
  graceMs: number,
  batchSize: number,
  onProgress?: GcOptions['onProgress'],
): Promise<{ removed: number; kept: number }> {
  const live = new Set<string>();
  const namespaces = await store.listNamespaces();
  for (const [i, info] of namespaces.entries()) {
    const dp = dataPrefix(info.id);
    const end = prefixEnd(dp);
    let cursor = dp;
    for (;;) {
      const rows = await store.kv.getRange(cursor, end, { limit: batchSize });
      for (const r of rows) if (isBlobEncoded(r.value)) live.add(r.value.toString('hex', 1, 33));
      if (rows.length < batchSize) break;
      cursor = Buffer.concat([rows[rows.length - 1]!.key, Buffer.from([0x00])]);
    }
    onProgress?.({ phase: 'mark', namespace: info.name, done: i + 1, total: namespaces.length });
  }
  // Grace is judged against the wall clock: chunk modification times are real file/object times.
  const graceLimit = Date.now() - graceMs;
  let removed = 0;
  let kept = 0;
  for await (const blob of store.blobs.list()) {
    if (live.has(blob.hash) || blob.modified.getTime() > graceLimit) {
      kept++;
      continue;
    }
    await store.blobs.delete(blob.hash);
    removed++;
    onProgress?.({ phase: 'sweep', done: removed });
  }
  return { removed, kept };
}
