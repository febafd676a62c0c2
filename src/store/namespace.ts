import { Mutex } from '../kv/mutex.js';
import type { KvEngine, KvReader, KvTransaction } from '../kv/types.js';
import { WriteBatch, type BatchBase, type CommitMeta, type PendingWrite } from './batch.js';
import type { ReadCache } from './readcache.js';
import { StoreError } from './errors.js';
import { BlobRef, encodeValue, type StoreValue } from './values.js';
import {
  STAMP_LEN,
  dataKeyBase,
  headKey,
  logPrefix,
  metaPrefix,
  packLogical,
  pinPrefix,
  prefixEnd,
  timeBytes,
  timePrefix,
  watermarkKey,
  type LogicalKey,
} from './keys.js';
import { Snapshot, type SnapshotCache } from './snapshot.js';
import {
  commitVersionOf,
  readVersionOf,
  versionFromBytes,
  versionToBytes,
  type Version,
} from './version.js';

export interface NamespaceRecord {
  id: number;
  /** creation time, ms since epoch */
  created: number;
  /** retention override, ms (absent: the store default) */
  retentionMs?: number;
}

export interface LogRecord {
  version: Version;
  /** wall time of the commit, ms since epoch */
  time: number;
  actor: string;
  summary: string;
  paths: string[];
}

export interface CommitResult<T> {
  value: T;
  /** The new version, or null when the batch wrote nothing (no commit was made). */
  version: Version | null;
}

/** What a namespace needs from its store. */
export interface NamespaceHost {
  readonly kv: KvEngine;
  /** ms since epoch; injectable for tests ("three days later") */
  readonly clock: () => number;
  readonly defaultRetentionMs: number;
  forget(name: string): void;
  /** Runs before every commit's kv transaction: makes the chunks it may reference durable. */
  beforeCommit(): Promise<void>;
  readonly readCache: ReadCache;
}

export interface Meta {
  headRaw: Buffer | undefined;
  head: Version | null;
  headTimeMicros: bigint;
  watermark: Version | null;
}

const EMPTY = Buffer.alloc(0);
const MAX_CONFLICT_RETRIES = 50;
/** Most commits written in one kv transaction by a group commit. */
const GROUP_MAX = 64;
/** A namespace that committed within this many ms is busy: its next commit waits to be grouped. */
const GROUP_WINDOW_MS = 2;
/** versionAt(): how far past this process's clock a time may be and still mean "now" (ms). */
const FUTURE_TIME_SLACK_MS = 60_000;
/** A commit's log record names at most this many of its paths (LogRecord.paths). */
export const MAX_LOGGED_PATHS = 256;

interface QueuedCommit {
  meta: CommitMeta;
  fn: (batch: WriteBatch) => Promise<unknown>;
  resolve: (result: CommitResult<unknown>) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

/**
 * What this process knows about the namespace's head, for the read cache.
 * Invariant: while `headState` is set, entries filed under `tag` are the values at `version`, and
 * `meta` is the namespace's meta as of the engine's commit version `latest`.
 */
interface HeadState {
  tag: string;
  version: Version;
  meta: Meta;
  /** engine.latestCommitVersion() when `meta` was known to be current (undefined: the engine cannot tell) */
  latest: bigint | undefined;
  /** performance.now() when `meta` was last known to be current (see currentMeta's maxStaleMs) */
  checkedAt: number;
}
class ConflictSignal extends Error {}

/**
 * One versioned keyspace (one agent's filesystem, or one app database). Holds no OS resource: it is
 * a name, an id and a mutex, so a process can keep thousands open.
 *
 * Commit protocol (optimistic, works on every engine and across processes): read the head, build
 * the batch against that snapshot, then in one kv transaction check the head is unchanged and write
 * every key with the commit's versionstamp, the log record, the time-index entry and the new head.
 * A changed head means another writer won: rebuild the batch on the new head and try again. The
 * in-process mutex makes that retry rare (it only happens across processes).
 */
export class Namespace {
  private readonly mutex = new Mutex();
  private headState: HeadState | null = null;
  /** commits waiting for the next group (see drain) */
  private readonly queue: QueuedCommit[] = [];
  /** when the last commit was requested (performance.now()), to tell a busy namespace */
  private lastCommitAt = -Infinity;
  /** true from the start of a commit's kv transaction until the head state has caught up with it */
  private committing = false;

  constructor(
    private readonly host: NamespaceHost,
    readonly name: string,
    readonly record: NamespaceRecord,
  ) {}

  get id(): number {
    return this.record.id;
  }

  get retentionMs(): number {
    return this.record.retentionMs ?? this.host.defaultRetentionMs;
  }

  private get kv(): KvEngine {
    return this.host.kv;
  }

  private async readMeta(kv: KvReader = this.kv): Promise<Meta> {
    const begin = metaPrefix(this.id);
    return this.parseMeta(await kv.getRange(begin, prefixEnd(begin)));
  }

  /** The head and watermark from the namespace's meta rows (shared by the async and sync paths). */
  parseMeta(rows: ReadonlyArray<{ key: Buffer; value: Buffer }>): Meta {
    const head = headKey(this.id);
    const wm = watermarkKey(this.id);
    const meta: Meta = { headRaw: undefined, head: null, headTimeMicros: 0n, watermark: null };
    for (const row of rows) {
      if (row.key.equals(head)) {
        meta.headRaw = row.value;
        meta.head = versionFromBytes(row.value.subarray(0, STAMP_LEN));
        meta.headTimeMicros = row.value.readBigUInt64BE(STAMP_LEN);
      } else if (row.key.equals(wm)) {
        meta.watermark = versionFromBytes(row.value);
      }
    }
    if (!meta.headRaw) {
      this.host.forget(this.name);
      throw new StoreError('UNKNOWN_NAMESPACE', `namespace '${this.name}' no longer exists (it was deleted)`);
    }
    return meta;
  }

  /**
   * The meta, from memory when the engine's newest commit version has not moved since it was read:
   * every change to a namespace's meta is a versionstamped write (commits, GC raising a watermark,
   * deletion — see keys.ts changeKey), so an unmoved engine version means an unchanged meta, also
   * across processes. Engines that cannot tell (FoundationDB) read the meta every time.
   */
  private async currentMeta(maxStaleMs = 0): Promise<Meta> {
    const state = this.headState;
    const checkedAt = performance.now();
    // Our own commits move the head state as they happen; only other processes' commits can be
    // missed here, and for at most maxStaleMs (a consistent older state, never a torn one).
    if (state && !this.committing && maxStaleMs > 0 && checkedAt - state.checkedAt <= maxStaleMs) return state.meta;
    const latest = this.kv.latestCommitVersion?.();
    if (state && !this.committing && latest !== undefined && state.latest === latest) {
      state.checkedAt = checkedAt;
      return state.meta;
    }
    const meta = await this.readMeta();
    if (!this.committing && this.host.readCache.enabled) {
      const version = readVersionOf(meta.head!);
      const now = this.headState;
      if (now && now.version === version) {
        now.meta = meta;
        now.latest = latest;
        now.checkedAt = checkedAt;
      } else {
        this.headState = { tag: this.host.readCache.newGeneration(), version, meta, latest, checkedAt };
      }
    }
    return meta;
  }

  /** The read cache for a snapshot at the head version `version`: valid while that stays the head. */
  private headCache(version: Version): SnapshotCache | undefined {
    if (!this.host.readCache.enabled) return undefined;
    return {
      cache: this.host.readCache,
      tag: () => {
        const state = this.headState;
        return state && !this.committing && state.version === version ? state.tag : undefined;
      },
    };
  }

  /** Forgets the head state (the namespace was deleted, or changed behind our back). */
  invalidate(): void {
    this.headState = null;
  }

  /** The newest committed version of this namespace. */
  async head(): Promise<Version> {
    return (await this.currentMeta()).head!;
  }

  /** The oldest readable version (GC watermark), or null before the first GC that trimmed history. */
  async watermark(): Promise<Version | null> {
    return (await this.currentMeta()).watermark;
  }

  /**
   * A consistent read view at `at` (default: head). Fails with VERSION_EXPIRED below the GC
   * watermark (unless the version is pinned) and FUTURE_VERSION beyond the head — never wrong data.
   *
   * `maxStaleMs`: a head view may be the head this process knew up to that long ago, without
   * asking the engine whether another process committed since (a SQL query, the largest part of
   * a cached read). For callers that already show older state, e.g. FUSE with its kernel caches.
   * This process's own commits are always seen.
   */
  async snapshot(at?: Version, options: { maxStaleMs?: number } = {}): Promise<Snapshot> {
    const meta = await this.currentMeta(at === undefined ? options.maxStaleMs : 0);
    // The head as a read version: no other commit of this namespace can share its commit version
    // (the head check in writeGroup() makes them conflict), so the two name the same state.
    if (at === undefined) {
      const version = readVersionOf(meta.head!);
      return new Snapshot(this.kv, this.id, version, this.headCache(version));
    }
    // Versions are store-wide: a version past this namespace's head but not past the engine's
    // newest commit is a settled state here too (nothing can commit below it any more).
    if (commitVersionOf(at) > commitVersionOf(meta.head!) && !(commitVersionOf(at) <= (this.kv.latestCommitVersion?.() ?? -1n))) {
      throw new StoreError(
        'FUTURE_VERSION',
        `version ${at} is from the future: the newest version of '${this.name}' is ${readVersionOf(meta.head!)}`,
      );
    }
    if (meta.watermark && at < meta.watermark && !(await this.isPinned(at))) {
      throw new StoreError(
        'VERSION_EXPIRED',
        this.expiredMessage(at, meta.watermark),
      );
    }
    // a settled version never changes: its values are cached under the version itself
    const cache = this.host.readCache;
    return new Snapshot(this.kv, this.id, at, cache.enabled ? { cache, tag: () => at } : undefined);
  }

  /**
   * Runs `fn` against a write batch on the current head and commits its writes as one new version.
   * `fn` may run more than once (after a conflict with another process), so it must only read
   * through the batch and must not have other side effects that cannot be repeated (blob uploads
   * are fine: they are idempotent).
   */
  commit<T>(meta: CommitMeta, fn: (batch: WriteBatch) => Promise<T>): Promise<CommitResult<T>> {
    return new Promise<CommitResult<T>>((resolve, reject) => {
      this.queue.push({ meta, fn: fn as (batch: WriteBatch) => Promise<unknown>, resolve: resolve as (r: CommitResult<unknown>) => void, reject, settled: false });
      if (this.queue.length === 1) {
        // Under load (this namespace committed moments ago) the drain waits until the event loop
        // has run what is ready now, so requests that arrived together — parallel uploads of one
        // agent — reach commit in the same turn and share one transaction. Otherwise it runs at
        // once: a lone commit must not wait behind a whole event-loop turn of other agents' work
        // (measured: p99 tool-call latency 0.7 ms → 15–30 ms with 1,000 active agents). The same
        // trade as PostgreSQL's commit_delay/commit_siblings. An engine that defers its COMMIT
        // (the mount's) shares one write of the disk among commits already: no wait (a FUSE client
        // sends one request at a time, and the wait cost each of its commits ~70 µs).
        const now = performance.now();
        this.scheduleDrain(!this.kv.defersCommit && now - this.lastCommitAt < GROUP_WINDOW_MS);
        this.lastCommitAt = now;
      }
    });
  }

  /**
   * Puts the whole namespace back as it was at `at`, as one new version: every key whose value at
   * the head differs from its value at `at` is set to that value, or deleted when it had none.
   * History is untouched: the state it replaces stays readable at `before`. Returns the new version
   * (null when nothing differs) and how many keys changed.
   *
   * For data with a version stamp inside (SQLite's change counter): `transform` turns the value
   * from `at` into the one written (given the head's value); a key `equivalent` calls equal to the
   * head's does not count as a change, but is written (transformed) if anything else changes.
   */
  async restore(
    at: Version,
    meta: CommitMeta,
    options: {
      transform?: (key: LogicalKey, past: StoreValue, head: StoreValue | undefined) => StoreValue;
      equivalent?: (key: LogicalKey, past: StoreValue, head: StoreValue) => boolean;
    } = {},
  ): Promise<{ version: Version | null; keys: number; before: Version }> {
    const { transform = (_key, past) => past, equivalent = () => false } = options;
    const past = await this.snapshot(at); // refuses expired and future versions
    const then = await past.list([]);
    const res = await this.commit(meta, async (w) => {
      const wanted = new Map(then.map((e) => [e.packed.toString('latin1'), e]));
      const alike: Array<readonly [LogicalKey, StoreValue, StoreValue]> = [];
      let keys = 0;
      for (const e of await w.list([])) {
        const id = e.packed.toString('latin1');
        const was = wanted.get(id);
        wanted.delete(id);
        if (was && sameValue(was.value, e.value)) continue;
        if (was && equivalent(e.key, was.value, e.value)) {
          alike.push([e.key, was.value, e.value]);
          continue;
        }
        if (was) w.set(e.key, transform(e.key, was.value, e.value));
        else w.delete(e.key);
        keys++;
      }
      // what the head does not have at all
      for (const e of wanted.values()) w.set(e.key, transform(e.key, e.value, undefined));
      keys += wanted.size;
      if (keys > 0) for (const [key, then, now] of alike) w.set(key, transform(key, then, now));
      return { keys, before: w.version };
    });
    return { version: res.version, ...res.value };
  }

  /** Drains the queue under the mutex: at the end of this event-loop turn, or right after this task. */
  private scheduleDrain(endOfTurn: boolean): void {
    const drain = (): void => void this.mutex.run(() => this.drain());
    if (endOfTurn) setImmediate(drain);
    else queueMicrotask(drain);
  }

  /**
   * Group commit. Commits requested while another is being written wait in `queue`; the next drain
   * takes them all (up to GROUP_MAX), builds their batches one after another — each on top of the
   * previous one's writes, exactly as if they had committed in turn — and writes them in ONE kv
   * transaction (engine.transactGroup) where each gets its own version, log record and time. On an
   * engine without group commit (FoundationDB) a drain takes one request at a time.
   */
  private async drain(): Promise<void> {
    const items = this.queue.splice(0, this.kv.transactGroup ? GROUP_MAX : 1);
    if (this.queue.length > 0) this.scheduleDrain(true);
    try {
      await this.drainItems(items);
    } catch (err) {
      // reading the meta failed (e.g. the namespace was deleted): every waiting commit hears it
      for (const item of items) {
        if (!item.settled) {
          item.settled = true;
          item.reject(err);
        }
      }
    }
  }

  private async drainItems(items: QueuedCommit[]): Promise<void> {
    for (let attempt = 0; items.some((i) => !i.settled); attempt++) {
      // The head we last knew, without asking the engine: if another process committed since, the
      // head check in writeGroup() conflicts and the retry reads the real meta; the watermark the
      // new head state keeps is read inside the commit's own transaction.
      const known = attempt === 0 && !this.committing ? this.headState : null;
      const current = known?.meta ?? (await this.currentMeta());
      const headVersion = readVersionOf(current.head!);
      let base: BatchBase = new Snapshot(this.kv, this.id, headVersion, this.headCache(headVersion));
      const built: Array<{ item: QueuedCommit; batch: WriteBatch; value: unknown }> = [];
      let stale = false;
      for (const item of items) {
        if (item.settled) continue;
        const batch = new WriteBatch(base, item.meta);
        try {
          const value = await item.fn(batch);
          built.push({ item, batch, value });
          if (batch.size > 0) base = batch;
        } catch (err) {
          // On the head we last knew, it may have failed only because that head is old: another
          // process made what it needs (a file the mount just wrote, for a tool that removes it)
          // — a failure is no conflict, the head check never runs. Failures on the real head count.
          if (known && !this.stillCurrent(known)) {
            stale = true;
            break;
          }
          item.settled = true; // its function failed: it commits nothing, the others go on
          item.reject(err);
        }
      }
      if (stale) {
        this.headState = null;
        continue;
      }
      const writing = built.filter((b) => b.batch.size > 0);
      try {
        const versions = writing.length > 0 ? (await this.host.beforeCommit(), await this.writeGroup(writing.map((b) => b.batch), current)) : [];
        for (const b of built) {
          const i = writing.indexOf(b);
          b.item.settled = true;
          b.item.resolve({ value: b.value, version: i >= 0 ? versions[i]! : null });
        }
      } catch (err) {
        if (err instanceof ConflictSignal && attempt < MAX_CONFLICT_RETRIES) {
          this.headState = null; // someone else committed: read the real head next time
          await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt * 2) * Math.random()));
          continue;
        }
        const final = err instanceof ConflictSignal ? new StoreError('CONFLICT', `commit to '${this.name}' kept conflicting with other writers; try again`) : err;
        for (const b of built) {
          b.item.settled = true;
          b.item.reject(final);
        }
      }
    }
  }

  /** Whether `state` is still the namespace's meta: nothing was committed anywhere in the engine since (false when the engine cannot tell). */
  private stillCurrent(state: HeadState): boolean {
    const latest = this.kv.latestCommitVersion?.();
    return latest !== undefined && latest === state.latest;
  }

  /** Writes built batches as consecutive commits in one kv transaction; returns their versions. */
  private async writeGroup(batches: WriteBatch[], base: Meta): Promise<Version[]> {
    const nowMicros = BigInt(Math.round(this.host.clock() * 1000));
    // Commit times are monotonic per namespace, so the time index agrees with version order.
    let previousTime = base.headTimeMicros;
    const times = batches.map(() => {
      previousTime = nowMicros > previousTime ? nowMicros : previousTime + 1n;
      return previousTime;
    });
    let watermark: Version | null = null;
    // encoded once (a transaction may be retried): fresh buffers that the engine keeps until its
    // commit and the read cache after it, so neither copies the caller's data again
    const encoded = batches.map((batch) => Array.from(batch.writes.values(), (w) => ({ w, bytes: encodeValue(w.value) })));
    const writeOne = (batch: WriteBatch, i: number) => async (tx: KvTransaction): Promise<void> => {
      if (i === 0) {
        // later batches of the group follow this one inside the same transaction
        const head = await tx.get(headKey(this.id));
        if (!head) throw new StoreError('UNKNOWN_NAMESPACE', `namespace '${this.name}' was deleted`);
        if (!base.headRaw || !head.equals(base.headRaw)) throw new ConflictSignal();
        // read inside the transaction: a GC of another process may have raised it since `base`
        const wm = await tx.get(watermarkKey(this.id));
        watermark = wm ? versionFromBytes(wm) : null;
      }
      const time = times[i]!;
      writeCommitRecords(tx, this.id, time, { t: Number(time / 1000n), a: batch.meta.actor, s: batch.meta.summary, p: batch.meta.paths.slice(0, MAX_LOGGED_PATHS) });
      for (const { w, bytes } of encoded[i]!) tx.setVersionstampedKey(dataKeyBase(this.id, w.packed), EMPTY, bytes);
    };
    this.committing = true;
    try {
      const fns = batches.map(writeOne);
      const results = this.kv.transactGroup ? await this.kv.transactGroup(fns) : [await this.kv.transact(fns[0]!)];
      const versions = results.map((r) => versionFromBytes(r.stamp!));
      let previous = base.head!;
      batches.forEach((batch, i) => {
        this.advanceHead(previous, encoded[i]!, batch.emptyPrefixes, versions[i]!, times[i]!, watermark);
        previous = versions[i]!;
      });
      return versions;
    } catch (err) {
      this.headState = null;
      throw err;
    } finally {
      this.committing = false;
    }
  }

  /**
   * Write-through after our own commit: the new head differs from `base` by exactly the batch's
   * writes (the head check in writeGroup() proved nobody committed in between), so the cached head moves
   * to the new version with those keys replaced — the next path lookup needs no kv read.
   */
  private advanceHead(
    previous: Version,
    writes: ReadonlyArray<{ w: PendingWrite; bytes: Buffer }>,
    emptyPrefixes: readonly LogicalKey[],
    version: Version,
    timeMicros: bigint,
    watermark: Version | null,
  ): void {
    const state = this.headState;
    if (!state || state.version !== readVersionOf(previous)) {
      this.headState = null;
      return;
    }
    const cache = this.host.readCache;
    // listings of prefixes nothing was written under before (new directories), then the writes
    for (const prefix of emptyPrefixes) cache.setList(this.id, state.tag, prefix, packLogical(prefix), []);
    for (const { w, bytes } of writes) {
      // bytes: a view of our encoded copy, not the caller's buffer (which it may reuse)
      const value = Buffer.isBuffer(w.value) ? bytes.subarray(1) : w.value;
      cache.set(this.id, state.tag, w.packed, value);
      cache.applyToLists(this.id, state.tag, w.key, w.packed, value);
    }
    state.version = readVersionOf(version);
    state.meta = { headRaw: Buffer.concat([versionToBytes(version), timeBytes(timeMicros)]), head: version, headTimeMicros: timeMicros, watermark };
    // our commit set the engine's newest version to exactly this one
    if (state.latest !== undefined) state.latest = commitVersionOf(version);
    state.checkedAt = performance.now();
  }

  /** Commit log, newest first. `before` pages backwards (exclusive); `after`: only newer commits (exclusive). */
  async log(options: { limit?: number; before?: Version; after?: Version; since?: Date } = {}): Promise<LogRecord[]> {
    const prefix = logPrefix(this.id);
    // a log key is the prefix and a 10-byte stamp: the first key past `after` is after ‖ 0x00
    const begin = options.after ? Buffer.concat([prefix, versionToBytes(options.after), Buffer.of(0)]) : prefix;
    const end = options.before ? Buffer.concat([prefix, versionToBytes(options.before)]) : prefixEnd(prefix);
    const rows = await this.kv.getRange(begin, end, { reverse: true, ...(options.limit ? { limit: options.limit } : {}) });
    const since = options.since?.getTime() ?? -Infinity;
    const out: LogRecord[] = [];
    for (const row of rows) {
      const rec = JSON.parse(row.value.toString('utf8')) as { t: number; a: string; s: string; p: string[] };
      if (rec.t < since) break;
      out.push({ version: versionFromBytes(row.key.subarray(prefix.length)), time: rec.t, actor: rec.a, summary: rec.s, paths: rec.p });
    }
    return out;
  }

  /**
   * The latest read version committed at or before `when`. Dates have millisecond precision and
   * commit times microsecond precision, so `when` covers its whole millisecond.
   */
  async versionAt(when: Date): Promise<Version> {
    // A time to come has no settled state, as a version past the head has none: answering the
    // head would let "next week" (or a year typo) pass for a real moment. A little slack for
    // clocks that run ahead of ours.
    const now = this.host.clock();
    if (when.getTime() > now + FUTURE_TIME_SLACK_MS) {
      throw new StoreError(
        'FUTURE_VERSION',
        `${when.toISOString()} is in the future (now is ${new Date(now).toISOString()}): the newest version of '${this.name}' is ${readVersionOf(await this.head())}`,
      );
    }
    const micros = BigInt(when.getTime()) * 1000n;
    const prefix = timePrefix(this.id);
    const rows = await this.kv.getRange(prefix, Buffer.concat([prefix, timeBytes(micros + 1000n)]), { reverse: true, limit: 1 });
    const watermark = await this.watermark();
    if (rows.length === 0 && watermark) {
      throw new StoreError('VERSION_EXPIRED', this.expiredMessage(when.toISOString(), watermark));
    }
    if (rows.length === 0) {
      const first = await this.kv.getRange(prefix, prefixEnd(prefix), { limit: 1 });
      const firstTime = first[0] ? new Date(Number(first[0].key.readBigUInt64BE(prefix.length) / 1000n)).toISOString() : null;
      throw new StoreError(
        'NO_VERSION_AT_TIME',
        `no version of '${this.name}' at or before ${when.toISOString()}` +
          (firstTime ? `: its oldest readable commit is at ${firstTime}` : ''),
      );
    }
    const stamp = versionFromBytes(rows[0]!.key.subarray(prefix.length + 8));
    if (watermark && stamp < watermark) {
      throw new StoreError('VERSION_EXPIRED', this.expiredMessage(when.toISOString(), watermark));
    }
    return readVersionOf(stamp);
  }

  expiredMessage(what: string, watermark: Version): string {
    return `version expired: ${what} is older than the retention window of '${this.name}'; the oldest readable version is ${readVersionOf(watermark)}`;
  }

  /** Pins keep a version readable through GC, whatever the retention window. */
  async pin(version: Version, label = ''): Promise<void> {
    await this.snapshot(version); // validates: not expired, not from the future
    await this.kv.transact(async (tx) => tx.set(Buffer.concat([pinPrefix(this.id), versionToBytes(version)]), Buffer.from(label)));
  }

  async unpin(version: Version): Promise<void> {
    await this.kv.transact(async (tx) => tx.clear(Buffer.concat([pinPrefix(this.id), versionToBytes(version)])));
  }

  async pins(): Promise<Array<{ version: Version; label: string }>> {
    const prefix = pinPrefix(this.id);
    const rows = await this.kv.getRange(prefix, prefixEnd(prefix));
    return rows.map((r) => ({ version: versionFromBytes(r.key.subarray(prefix.length)), label: r.value.toString('utf8') }));
  }

  private async isPinned(version: Version): Promise<boolean> {
    const pins = await this.pins();
    return pins.some((p) => readVersionOf(p.version) === readVersionOf(version));
  }
}

/** The log record, time-index entry and new head that every commit (and namespace creation) writes. */
export function writeCommitRecords(
  tx: { setVersionstampedKey(p: Buffer, s: Buffer, v: Buffer): void; setVersionstampedValue(k: Buffer, p: Buffer, s: Buffer): void },
  id: number,
  timeMicros: bigint,
  record: { t: number; a: string; s: string; p: string[] },
): void {
  tx.setVersionstampedKey(logPrefix(id), EMPTY, Buffer.from(JSON.stringify(record)));
  tx.setVersionstampedKey(Buffer.concat([timePrefix(id), timeBytes(timeMicros)]), EMPTY, EMPTY);
  tx.setVersionstampedValue(headKey(id), EMPTY, timeBytes(timeMicros));
}

/** Two stored values hold the same content (a chunk reference is its hash). */
function sameValue(a: StoreValue, b: StoreValue): boolean {
  if (a instanceof BlobRef || b instanceof BlobRef) return a instanceof BlobRef && b instanceof BlobRef && a.equals(b);
  return a.equals(b);
}
