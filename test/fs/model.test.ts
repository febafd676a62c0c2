import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentFs } from '../../src/fs/agentfs.js';
import { BLOCK_SIZE } from '../../src/fs/types.js';
import type { Version } from '../../src/store/version.js';
import { makeFs } from '../helpers/fs.js';

/**
 * Model-based property test of the filesystem: random sequences of operations run against timefs
 * and against a tiny in-memory reference filesystem. Each operation must succeed or fail in both;
 * after the run, the whole tree is compared at head and at every recorded past version.
 */
type Node = { type: 'file'; data: Buffer } | { type: 'dir' } | { type: 'symlink'; target: string };
type Tree = Map<string, Node>;

const DIRS = ['/a', '/b', '/a/c'];
const PATHS = [...DIRS, '/f', '/a/f', '/a/g', '/b/f', '/a/c/f', '/a/c/g'];

type Op =
  | { t: 'writeFile'; p: string; size: number; seed: number }
  | { t: 'pwrite'; p: string; off: number; size: number; seed: number }
  | { t: 'truncate'; p: string; size: number }
  | { t: 'mkdir'; p: string }
  | { t: 'rm'; p: string; recursive: boolean }
  | { t: 'rename'; s: string; d: string }
  | { t: 'copy'; s: string; d: string; back: number }
  | { t: 'symlink'; target: string; p: string };

const pathArb = fc.constantFrom(...PATHS);
const sizeArb = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: BLOCK_SIZE - 5, max: BLOCK_SIZE + 5 }), fc.integer({ min: 0, max: 2 * BLOCK_SIZE + 100 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('writeFile' as const), p: pathArb, size: sizeArb, seed: fc.nat(255) }),
  fc.record({ t: fc.constant('pwrite' as const), p: pathArb, off: sizeArb, size: fc.integer({ min: 1, max: 3000 }), seed: fc.nat(255) }),
  fc.record({ t: fc.constant('truncate' as const), p: pathArb, size: sizeArb }),
  fc.record({ t: fc.constant('mkdir' as const), p: fc.constantFrom(...DIRS, '/a/c/f', '/b/f') }),
  fc.record({ t: fc.constant('rm' as const), p: pathArb, recursive: fc.boolean() }),
  fc.record({ t: fc.constant('rename' as const), s: pathArb, d: pathArb }),
  fc.record({ t: fc.constant('copy' as const), s: pathArb, d: pathArb, back: fc.nat(20) }),
  fc.record({ t: fc.constant('symlink' as const), target: fc.constantFrom('f', '../f', '/a/g'), p: pathArb }),
);

const fill = (size: number, seed: number): Buffer => {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed + i * 13 + (i >> 9)) & 0xff;
  return b;
};
const parent = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';
const under = (p: string, base: string): boolean => p === base || p.startsWith(`${base}/`);

/** Applies an op to the model; returns false when the op must fail. */
function applyModel(tree: Tree, op: Op, history: Tree[]): boolean {
  const isDir = (p: string): boolean => p === '/' || tree.get(p)?.type === 'dir';
  const parentOk = (p: string): boolean => isDir(parent(p));
  /** follows a symlink at p (only the final component; the model has no symlinked dirs in paths) */
  const follow = (start: string): string | null => {
    let p = start;
    for (let hops = 0; hops < 40; hops++) {
      const next = followOnce(p);
      if (next === p) return p;
      p = next;
    }
    return null;
  };
  const followOnce = (p: string): string => {
    const n = tree.get(p);
    if (n?.type !== 'symlink') return p;
    const joined = n.target.startsWith('/') ? n.target : `${parent(p)}/${n.target}`;
    const parts: string[] = [];
    for (const c of joined.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') parts.pop();
      else parts.push(c);
    }
    return `/${parts.join('/')}`;
  };
  switch (op.t) {
    case 'writeFile':
    case 'pwrite': {
      if (!parentOk(op.p)) return false;
      const target = follow(op.p);
      if (!target || !parentOk(target)) return false;
      const n = tree.get(target);
      if (n && n.type !== 'file') return false;
      if (op.t === 'writeFile') tree.set(target, { type: 'file', data: fill(op.size, op.seed) });
      else {
        const old = n?.type === 'file' ? n.data : Buffer.alloc(0);
        const data = Buffer.alloc(Math.max(old.length, op.off + op.size));
        old.copy(data);
        fill(op.size, op.seed).copy(data, op.off);
        tree.set(target, { type: 'file', data });
      }
      return true;
    }
    case 'truncate': {
      const target = follow(op.p);
      const n = target ? tree.get(target) : undefined;
      if (!parentOk(op.p) || !n || n.type !== 'file') return false;
      const data = Buffer.alloc(op.size);
      n.data.copy(data, 0, 0, Math.min(op.size, n.data.length));
      tree.set(target!, { type: 'file', data });
      return true;
    }
    case 'mkdir':
      if (!parentOk(op.p) || tree.has(op.p)) return false;
      tree.set(op.p, { type: 'dir' });
      return true;
    case 'symlink':
      if (!parentOk(op.p) || tree.has(op.p)) return false;
      tree.set(op.p, { type: 'symlink', target: op.target });
      return true;
    case 'rm': {
      const n = tree.get(op.p);
      if (!parentOk(op.p) || !n) return false;
      if (n.type === 'dir' && !op.recursive) return false;
      for (const k of [...tree.keys()]) if (under(k, op.p)) tree.delete(k);
      return true;
    }
    case 'rename': {
      const n = tree.get(op.s);
      if (!parentOk(op.s) || !n || !parentOk(op.d)) return false;
      if (op.s === op.d) return true;
      if (n.type === 'dir' && under(op.d, op.s)) return false;
      const victim = tree.get(op.d);
      if (victim) {
        if (n.type === 'dir' && victim.type !== 'dir') return false;
        if (n.type !== 'dir' && victim.type === 'dir') return false;
        if (victim.type === 'dir' && [...tree.keys()].some((k) => k !== op.d && under(k, op.d))) return false;
        tree.delete(op.d);
      }
      for (const k of [...tree.keys()].sort()) {
        if (under(k, op.s)) {
          const node = tree.get(k)!;
          tree.delete(k);
          tree.set(op.d + k.slice(op.s.length), node);
        }
      }
      return true;
    }
    case 'copy': {
      const src = history[Math.max(0, history.length - 1 - op.back)]!;
      const n = src.get(op.s);
      if (!n || !parentOk(op.d)) return false;
      const victim = tree.get(op.d);
      if (victim?.type === 'dir') return false;
      if (victim && n.type === 'dir') return false;
      if (n.type === 'dir' && src === history[history.length - 1] && under(op.d, op.s)) return false;
      for (const [k, v] of [...src.entries()].sort()) if (under(k, op.s)) tree.set(op.d + k.slice(op.s.length), v.type === 'file' ? { type: 'file', data: Buffer.from(v.data) } : v);
      return true;
    }
  }
}

async function applyReal(fs: AgentFs, op: Op, versions: Version[]): Promise<boolean> {
  try {
    switch (op.t) {
      case 'writeFile':
        await fs.writeFile(op.p, fill(op.size, op.seed));
        break;
      case 'pwrite':
        await fs.write(op.p, op.off, fill(op.size, op.seed));
        break;
      case 'truncate':
        await fs.truncate(op.p, op.size);
        break;
      case 'mkdir':
        await fs.mkdir(op.p);
        break;
      case 'symlink':
        await fs.symlink(op.target, op.p);
        break;
      case 'rm':
        await fs.rm(op.p, { recursive: op.recursive });
        break;
      case 'rename':
        await fs.rename(op.s, op.d);
        break;
      case 'copy':
        await fs.copy(op.s, op.d, { version: versions[Math.max(0, versions.length - 1 - op.back)]! });
        break;
    }
    return true;
  } catch (err) {
    if (!(err as { code?: string }).code) throw err; // untyped errors are bugs
    return false;
  }
}

async function realTree(fs: AgentFs, version: Version): Promise<Tree> {
  const view = await fs.view(version);
  const out: Tree = new Map();
  for await (const { rel, entry, inode } of view.walk(1)) {
    const p = `/${rel}`;
    if (entry.type === 'dir') out.set(p, { type: 'dir' });
    else if (entry.type === 'symlink') out.set(p, { type: 'symlink', target: inode.target! });
    else out.set(p, { type: 'file', data: await view.readContent(entry.ino, inode, 0, inode.size) });
  }
  return out;
}

const show = (t: Tree): Record<string, string> =>
  Object.fromEntries([...t.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.type === 'file' ? `file:${v.data.length}:${v.data.toString('base64').slice(0, 24)}:${v.data.subarray(-16).toString('hex')}` : v.type === 'symlink' ? `->${v.target}` : 'dir']));

describe('filesystem model-based property test', () => {
  it('matches a reference filesystem at head and at every past version', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const fs = await makeFs({ engine: 'memory' });
        const model: Tree = new Map();
        const history: Tree[] = [new Map()];
        const versions: Version[] = [await fs.head()];
        for (const [i, op] of ops.entries()) {
          const expected = applyModel(model, op, history);
          const got = await applyReal(fs, op, versions);
          expect(got, `op ${i} ${JSON.stringify(op)} should ${expected ? 'succeed' : 'fail'}`).toBe(expected);
          if (!got) {
            // failed: the model must be restored to the last state
            model.clear();
            for (const [k, v] of history[history.length - 1]!) model.set(k, v);
            continue;
          }
          history.push(new Map([...model.entries()].map(([k, v]) => [k, v.type === 'file' ? { type: 'file', data: Buffer.from(v.data) } : v])));
          versions.push(await fs.head());
        }
        for (let i = 0; i < versions.length; i++) {
          expect(show(await realTree(fs, versions[i]!)), `tree at version #${i}`).toEqual(show(history[i]!));
        }
      }),
      { numRuns: Number(process.env.FS_MODEL_RUNS ?? 150) },
    );
  }, 120_000);
});
