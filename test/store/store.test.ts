import { describe, expect, it } from 'vitest';
import { BlobRef } from '../../src/store/values.js';
import { StoreError } from '../../src/store/errors.js';
import { parseVersion, readVersionOf, type Version } from '../../src/store/version.js';
import { TestClock, makeStore } from '../helpers/store.js';

const str = (v: unknown): string | undefined => (Buffer.isBuffer(v) ? v.toString() : undefined);
const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return err instanceof StoreError ? err.code : `untyped: ${String(err)}`;
  }
};

describe('versions', () => {
  it('parses 20 hex chars, normalizes case, rejects everything else with a clear message', () => {
    expect(parseVersion('00003A6ED63A7951FFFF')).toBe('00003a6ed63a7951ffff');
    for (const bad of ['', '00003a6ed63a7951fff', '00003a6ed63a7951ffff0', 'g0003a6ed63a7951ffff', ' 00003a6ed63a7951ffff', '0x003a6ed63a7951ffff']) {
      expect(() => parseVersion(bad)).toThrow(/invalid version .*20 hex characters/);
    }
    expect(readVersionOf(parseVersion('00003a6ed63a79510000'))).toBe('00003a6ed63a7951ffff');
  });
});

describe('namespaces and commits', () => {
  it('commits batches and reads every key at head and at each past version', async () => {
    const store = makeStore();
    const ns = await store.createNamespace('agent:a');
    const versions: Version[] = [];
    for (let i = 0; i < 5; i++) {
      const { version } = await ns.commit({ actor: 'test', summary: `write ${i}` }, async (w) => {
        w.set(['k', 'x'], Buffer.from(`x${i}`));
        if (i === 2) w.delete(['k', 'y']);
        else w.set(['k', 'y'], Buffer.from(`y${i}`));
      });
      versions.push(version!);
    }
    for (let i = 0; i < 5; i++) {
      const snap = await ns.snapshot(versions[i]);
      expect(str(await snap.get(['k', 'x']))).toBe(`x${i}`);
      expect(str(await snap.get(['k', 'y']))).toBe(i === 2 ? undefined : `y${i}`);
      const listed = await snap.list(['k']);
      expect(listed.map((e) => e.key[1])).toEqual(i === 2 ? ['x'] : ['x', 'y']);
    }
    const head = await ns.snapshot();
    expect(str(await head.get(['k', 'x']))).toBe('x4');
    expect(await ns.head()).toBe(versions[4]);
    // versions are strictly increasing and read versions end in ffff
    expect([...versions].sort()).toEqual(versions);
    expect(readVersionOf(versions[0]!)).toMatch(/^[0-9a-f]{16}ffff$/);
    await store.close();
  });

  it('keeps namespaces isolated and nested keys apart from their prefixes', async () => {
    const store = makeStore();
    const a = await store.createNamespace('a');
    const b = await store.createNamespace('b');
    await a.commit({ actor: 't', summary: 's' }, async (w) => {
      w.set(['e', 1], Buffer.from('one'));
      w.set(['e', 1, 'child'], Buffer.from('nested'));
      w.set(['e', 10], Buffer.from('ten'));
    });
    const sa = await a.snapshot();
    expect(str(await sa.get(['e', 1]))).toBe('one');
    expect((await sa.list(['e', 1])).map((e) => e.key)).toEqual([['e', 1], ['e', 1, 'child']]);
    expect(await (await b.snapshot()).get(['e', 1])).toBeUndefined();
    expect((await store.listNamespaces()).map((n) => n.name)).toEqual(['a', 'b']);
    await store.deleteNamespace('a');
    expect(await code(store.namespace('a'))).toBe('UNKNOWN_NAMESPACE');
    expect(await code(a.snapshot())).toBe('UNKNOWN_NAMESPACE');
    await store.close();
  });

  it('reads its own writes inside a commit and skips empty commits', async () => {
    const store = makeStore();
    const ns = await store.createNamespace('n');
    const head0 = await ns.head();
    const r = await ns.commit({ actor: 't', summary: 's' }, async (w) => {
      w.set(['d', 'a'], Buffer.from('1'));
      w.set(['d', 'b'], Buffer.from('2'));
      w.delete(['d', 'a']);
      return { got: str(await w.get(['d', 'b'])), list: (await w.list(['d'])).map((e) => e.key[1]) };
    });
    expect(r.value).toEqual({ got: '2', list: ['b'] });
    const empty = await ns.commit({ actor: 't', summary: 'nothing' }, async () => 'x');
    expect(empty.version).toBeNull();
    expect((await ns.log()).length).toBe(2);
    expect(head0 < r.version!).toBe(true);
    await store.close();
  });

  it('never loses an update when commits race', async () => {
    const store = makeStore();
    const ns = await store.createNamespace('race');
    await Promise.all(
      Array.from({ length: 40 }, () =>
        ns.commit({ actor: 't', summary: 'inc' }, async (w) => {
          const cur = Number(str(await w.get(['counter'])) ?? '0');
          await new Promise((r) => setImmediate(r));
          w.set(['counter'], Buffer.from(String(cur + 1)));
        }),
      ),
    );
    expect(str(await (await ns.snapshot()).get(['counter']))).toBe('40');
    await store.close();
  });

  it('rejects bad input with typed errors', async () => {
    const store = makeStore();
    expect(await code(store.namespace('nope'))).toBe('UNKNOWN_NAMESPACE');
    expect(await code(store.createNamespace(''))).toBe('INVALID_NAME');
    expect(await code(store.createNamespace('bad\nname'))).toBe('INVALID_NAME');
    const ns = await store.createNamespace('n');
    expect(await code(store.createNamespace('n'))).toBe('NAMESPACE_EXISTS');
    const future = parseVersion('7fffffffffffffffffff');
    const err = await ns.snapshot(future).catch((e: unknown) => e as StoreError);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('FUTURE_VERSION');
    expect((err as StoreError).message).toMatch(/from the future: the newest version of 'n' is [0-9a-f]{16}ffff/);
    await store.close();
  });
});

describe('commit log and time index', () => {
  it('records actor, summary and paths, and finds the version at a time', async () => {
    const clock = new TestClock();
    const store = makeStore({ clock });
    const ns = await store.createNamespace('agent');
    const t0 = clock.now;
    clock.advance(1000);
    const v1 = (await ns.commit({ actor: 'cli', summary: 'first', paths: ['/a'] }, async (w) => w.set(['x'], Buffer.from('1')))).version!;
    clock.advance(3 * 24 * 3600 * 1000);
    const v2 = (await ns.commit({ actor: 'tool:Write', summary: 'second', paths: ['/b'] }, async (w) => w.set(['x'], Buffer.from('2')))).version!;
    const log = await ns.log();
    expect(log.map((l) => [l.version, l.actor, l.summary, l.paths])).toEqual([
      [v2, 'tool:Write', 'second', ['/b']],
      [v1, 'cli', 'first', ['/a']],
      [log[2]!.version, 'store', 'create namespace agent', []],
    ]);
    expect(log[0]!.time).toBe(clock.now);
    expect(await ns.log({ limit: 1, before: v2 })).toHaveLength(1);
    expect((await ns.log({ before: v2 }))[0]!.version).toBe(v1);
    // `after` (exclusive): what a watcher has not seen yet
    expect((await ns.log({ after: v1 })).map((l) => l.version)).toEqual([v2]);
    expect(await ns.log({ after: v2 })).toEqual([]);
    expect((await ns.log({ after: log[2]!.version })).map((l) => l.version)).toEqual([v2, v1]);
    // the time index: exactly at, between, after
    expect(await ns.versionAt(new Date(t0 + 1000))).toBe(readVersionOf(v1));
    expect(await ns.versionAt(new Date(clock.now - 1))).toBe(readVersionOf(v1));
    expect(await ns.versionAt(new Date(clock.now + 10_000))).toBe(readVersionOf(v2)); // within the slack for clocks ahead
    // a time to come has no settled state: refused like a version past the head, naming the newest
    const future = await ns.versionAt(new Date(clock.now + 7 * 86_400_000)).catch((e: StoreError) => e);
    expect((future as StoreError).code).toBe('FUTURE_VERSION');
    expect((future as StoreError).message).toBe(`2026-11-30T12:00:01.000Z is in the future (now is 2026-11-23T12:00:01.000Z): the newest version of 'agent' is ${readVersionOf(v2)}`);
    const before = await ns.versionAt(new Date(t0 - 1)).catch((e: StoreError) => e);
    expect((before as StoreError).code).toBe('NO_VERSION_AT_TIME');
    expect((before as StoreError).message).toMatch(/oldest readable commit is at 2026-11-20T12:00:00.000Z/);
    const snap = await ns.snapshot(await ns.versionAt(new Date(t0 + 5000)));
    expect(str(await snap.get(['x']))).toBe('1');
    await store.close();
  });
});

describe('retention and GC', () => {
  it('keeps the state at the watermark, expires older reads, honours pins', async () => {
    const clock = new TestClock();
    const day = 24 * 3600 * 1000;
    const store = makeStore({ clock, retentionMs: 10 * day });
    const ns = await store.createNamespace('g');
    const versions: Version[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(day);
      const { version } = await ns.commit({ actor: 't', summary: `day ${i}` }, async (w) => {
        w.set(['k', 'daily'], Buffer.from(`d${i}`));
        if (i === 3) w.set(['k', 'once'], Buffer.from('written on day 3'));
        if (i === 5) w.set(['k', 'gone'], Buffer.from('x'));
        if (i === 6) w.delete(['k', 'gone']);
      });
      versions.push(version!);
    }
    await ns.pin(readVersionOf(versions[4]!), 'keep day 4');
    const report = await store.gc({ graceMs: 0 });
    // now = day 30; cutoff = day 20 → watermark = the commit of day 20 (index 19)
    expect(report.watermarks.g).toBe(versions[19]);
    expect(report.versionsRemoved).toBeGreaterThan(0);
    expect(await code(ns.snapshot(readVersionOf(versions[10]!)))).toBe('VERSION_EXPIRED');
    const msg = await ns.snapshot(readVersionOf(versions[10]!)).catch((e: StoreError) => e.message);
    expect(msg).toMatch(/version expired: .* the oldest readable version is [0-9a-f]{16}ffff/);
    for (const i of [19, 20, 29]) {
      const s = await ns.snapshot(readVersionOf(versions[i]!));
      expect(str(await s.get(['k', 'daily']))).toBe(`d${i}`);
      expect(str(await s.get(['k', 'once']))).toBe('written on day 3');
      expect(await s.get(['k', 'gone'])).toBeUndefined();
    }
    const pinned = await ns.snapshot(readVersionOf(versions[4]!));
    expect(str(await pinned.get(['k', 'daily']))).toBe('d4');
    expect(str(await pinned.get(['k', 'once']))).toBe('written on day 3');
    expect(await code(ns.versionAt(new Date(clock.now - 25 * day)))).toBe('VERSION_EXPIRED');
    // a second GC with nothing new to trim is a no-op
    const again = await store.gc({ graceMs: 0 });
    expect(again.versionsRemoved).toBe(0);
    await store.close();
  });

  it('sweeps only unreferenced chunks older than the grace period', async () => {
    const clock = new TestClock();
    const store = makeStore({ clock, retentionMs: 1000 });
    const ns = await store.createNamespace('b');
    const oldRef = await store.putBlob(Buffer.from('old content'));
    await ns.commit({ actor: 't', summary: 'old' }, async (w) => w.set(['f'], oldRef));
    clock.advance(5000);
    const newRef = await store.putBlob(Buffer.from('new content'));
    await ns.commit({ actor: 't', summary: 'new' }, async (w) => w.set(['f'], newRef));
    const orphan = await store.putBlob(Buffer.from('uploaded, never committed'));
    clock.advance(5000);
    await ns.commit({ actor: 't', summary: 'later' }, async (w) => w.set(['g'], Buffer.from('x')));
    // within the grace period nothing is swept, even the orphan
    const first = await store.gc({ graceMs: 3600_000 });
    expect(first.chunksRemoved).toBe(0);
    const second = await store.gc({ graceMs: 0 });
    expect(second.chunksRemoved).toBe(2); // oldRef (outside retention) and the orphan
    expect(await store.getBlob(newRef).then((b) => b.toString())).toBe('new content');
    expect(await code(store.blobs.get(oldRef.hash))).toBe('BLOB_MISSING');
    expect(await code(store.blobs.get(orphan.hash))).toBe('BLOB_MISSING');
    const v = (await (await ns.snapshot()).get(['f'])) as BlobRef;
    expect(v).toBeInstanceOf(BlobRef);
    expect(v.equals(newRef)).toBe(true);
    await store.close();
  });
});
