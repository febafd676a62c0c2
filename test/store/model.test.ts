import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.js';
import { readVersionOf, type Version } from '../../src/store/version.js';
import { TestClock, makeStore } from '../helpers/store.js';

/**
 * Model-based property test: random commits (sets and deletes over a small key space, including
 * keys nested under other keys), pins, clock jumps and GC runs, compared after every step with a
 * reference model that remembers the full state at every commit. Every version is then read back:
 * above the model's watermark (or pinned) it must match exactly, below it it must fail with
 * VERSION_EXPIRED — never return wrong data.
 */
type Op =
  | { t: 'commit'; writes: Array<[string, string | null]>; advance: number }
  | { t: 'gc'; advance: number }
  | { t: 'pin'; pick: number };

const KEYS = ['a', 'b', 'c', 'a/x', 'a/y'];
const keyOf = (k: string): string[] => ['k', ...k.split('/')];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('commit' as const), writes: fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.string({ maxLength: 6 }), { nil: null })), { minLength: 1, maxLength: 4 }), advance: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('gc' as const), advance: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pin' as const), pick: fc.nat() }) },
);

interface ModelCommit {
  version: Version;
  timeMicros: bigint;
  state: Map<string, string>;
}

describe('store model-based property test', () => {
  it('matches the reference model at every version through commits, pins and GC', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.constantFrom<'sqlite' | 'memory'>('sqlite', 'memory'), async (ops, engine) => {
        const clock = new TestClock();
        const retention = 1000;
        const store = makeStore({ engine, clock, retentionMs: retention });
        const ns = await store.createNamespace('model');
        const commits: ModelCommit[] = [{ version: await ns.head(), timeMicros: BigInt(clock.now) * 1000n, state: new Map() }];
        const pins = new Set<Version>();
        let watermarkIdx = -1;
        for (const op of ops) {
          if (op.t === 'commit') {
            clock.advance(op.advance);
            const prev = commits[commits.length - 1]!;
            const state = new Map(prev.state);
            const { version } = await ns.commit({ actor: 'model', summary: 'c' }, async (w) => {
              for (const [k, v] of op.writes) {
                if (v === null) {
                  w.delete(keyOf(k));
                  state.delete(k);
                } else {
                  w.set(keyOf(k), Buffer.from(v));
                  state.set(k, v);
                }
              }
            });
            const now = BigInt(clock.now) * 1000n;
            commits.push({ version: version!, timeMicros: now > prev.timeMicros ? now : prev.timeMicros + 1n, state });
          } else if (op.t === 'pin') {
            const i = op.pick % commits.length;
            if (i >= watermarkIdx || pins.has(readVersionOf(commits[i]!.version))) {
              await ns.pin(readVersionOf(commits[i]!.version));
              pins.add(readVersionOf(commits[i]!.version));
            }
          } else {
            clock.advance(op.advance);
            await store.gc({ graceMs: 0, batchSize: 3 });
            const cutoff = BigInt(Math.floor((clock.now - retention) * 1000));
            let w = -1;
            commits.forEach((c, i) => {
              if (c.timeMicros <= cutoff) w = i;
            });
            watermarkIdx = Math.max(watermarkIdx, w);
          }
        }
        for (const [i, c] of commits.entries()) {
          const rv = readVersionOf(c.version);
          const readable = i >= watermarkIdx || pins.has(rv);
          if (!readable) {
            await expect(ns.snapshot(rv)).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'VERSION_EXPIRED');
            continue;
          }
          const snap = await ns.snapshot(rv);
          for (const k of KEYS) {
            const got = await snap.get(keyOf(k));
            expect(got?.toString() ?? null, `key ${k} at commit ${i}`).toBe(c.state.get(k) ?? null);
          }
          const listed = (await snap.list(['k'])).map((e) => [(e.key.slice(1) as string[]).join('/'), e.value.toString()]);
          const expected = [...c.state.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(keyOrder(a)), Buffer.from(keyOrder(b))));
          expect(listed, `listing at commit ${i}`).toEqual(expected);
        }
        await store.close();
      }),
      { numRuns: 60 },
    );
  });
});

/** Tuple order of the model's keys: 'a' < 'a/x' < 'a/y' < 'b' < 'c' (a nested key follows its parent). */
function keyOrder(k: string): string {
  return k.split('/').join('\u0000\u0001');
}

describe('write batch listing (model-based)', () => {
  // keys two levels deep under 'k', as the filesystem lists a directory's entries or a file's blocks
  const WIDE = ['a', 'b', 'c', 'a/x', 'a/y', 'b/x', 'b/z', 'c/y'];
  const listCheck = fc.record({ prefix: fc.constantFrom('', 'a', 'b', 'c'), after: fc.option(fc.constantFrom(...WIDE), { nil: undefined }), limit: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) });
  const step = fc.oneof(
    fc.record({ t: fc.constant('write' as const), key: fc.constantFrom(...WIDE), value: fc.option(fc.string({ maxLength: 4 }), { nil: null }) }),
    fc.record({ t: fc.constant('list' as const), check: listCheck }),
  );

  it("lists the committed state with the batch's own sets and deletes, under any prefix, with after and limit", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...WIDE), fc.string({ maxLength: 4 })), { maxLength: 6 }), fc.array(step, { minLength: 1, maxLength: 30 }), async (seed, steps) => {
        const store = makeStore({ engine: 'memory' });
        const ns = await store.createNamespace('batch');
        const state = new Map<string, string>();
        await ns.commit({ actor: 'model', summary: 'seed' }, async (w) => {
          for (const [k, v] of seed) {
            w.set(keyOf(k), Buffer.from(v));
            state.set(k, v);
          }
        });
        await ns.commit({ actor: 'model', summary: 'steps' }, async (w) => {
          for (const s of steps) {
            if (s.t === 'write') {
              if (s.value === null) {
                w.delete(keyOf(s.key));
                state.delete(s.key);
              } else {
                w.set(keyOf(s.key), Buffer.from(s.value));
                state.set(s.key, s.value);
              }
              continue;
            }
            const { prefix, after, limit } = s.check;
            const under = (k: string): boolean => prefix === '' || k === prefix || k.startsWith(`${prefix}/`);
            const afterOrder = after === undefined ? null : keyOrder(after);
            let expected = [...state.entries()]
              .filter(([k]) => under(k) && (afterOrder === null || Buffer.compare(Buffer.from(keyOrder(k)), Buffer.from(afterOrder)) > 0))
              .sort(([a], [b]) => Buffer.compare(Buffer.from(keyOrder(a)), Buffer.from(keyOrder(b))));
            if (limit !== undefined) expected = expected.slice(0, limit);
            const listed = await w.list(prefix === '' ? ['k'] : keyOf(prefix), { ...(after !== undefined ? { after: keyOf(after) } : {}), ...(limit !== undefined ? { limit } : {}) });
            expect(listed.map((e) => [(e.key.slice(1) as string[]).join('/'), (e.value as Buffer).toString()]), JSON.stringify(s.check)).toEqual(expected);
          }
        });
        await store.close();
      }),
      { numRuns: 300 },
    );
  });
});
