import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { BlobRef } from '../store/index.js';
import { blockKey } from './codec.js';
import type { Inode } from './types.js';
import { BLOCK_SIZE } from './types.js';
import type { FsView } from './view.js';

export type DiffResult =
  | { kind: 'text'; path: string; from: string; to: string; patch: string; changed: boolean }
  | { kind: 'binary'; path: string; from: FileSide; to: FileSide; changed: boolean }
  | { kind: 'tree'; path: string; from: string; to: string; added: string[]; removed: string[]; modified: string[] };

export interface FileSide {
  exists: boolean;
  size: number;
  sha256: string | null;
}

/** Text diffs above this size are summarized instead (sizes and hashes). */
export const MAX_TEXT_DIFF = 1024 * 1024;

const isBinary = (b: Buffer): boolean => b.subarray(0, 8000).includes(0);

/** Content identity without reading content: size + the stored block references. */
async function fingerprint(view: FsView, ino: number, inode: Inode): Promise<string> {
  if (inode.type === 'symlink') return `l:${inode.target}`;
  if (inode.type !== 'file') return inode.type;
  const h = createHash('sha256').update(`${inode.size}`);
  for (let i = 0; i < Math.ceil(inode.size / BLOCK_SIZE); i++) {
    const v = await view.reader.get(blockKey(ino, i));
    h.update(v === undefined ? '-' : v instanceof BlobRef ? v.hash : createHash('sha256').update(v).digest('hex'));
  }
  return h.digest('hex');
}

async function fileSide(view: FsView, names: string[]): Promise<{ side: FileSide; data: Buffer | null; inode: Inode | null; ino: number }> {
  try {
    const r = await view.resolve(names, true);
    if (r.inode.type === 'dir') return { side: { exists: true, size: 0, sha256: null }, data: null, inode: r.inode, ino: r.ino };
    const data = r.inode.size <= MAX_TEXT_DIFF ? await view.readContent(r.ino, r.inode, 0, r.inode.size) : null;
    return { side: { exists: true, size: r.inode.size, sha256: data ? createHash('sha256').update(data).digest('hex') : null }, data, inode: r.inode, ino: r.ino };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { side: { exists: false, size: 0, sha256: null }, data: Buffer.alloc(0), inode: null, ino: 0 };
    throw err;
  }
}

async function treeMap(view: FsView, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let root;
  try {
    root = await view.resolve(names, true);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return out;
    throw err;
  }
  if (root.inode.type !== 'dir') return out;
  for await (const { rel, entry, inode } of view.walk(root.ino)) out.set(rel, await fingerprint(view, entry.ino, inode));
  return out;
}

/** Compares a path at two versions: a unified diff for text files, sizes/hashes for binary, entry lists for trees. */
export async function diffPath(a: FsView, b: FsView, names: string[], path: string): Promise<DiffResult> {
  const [sa, sb] = await Promise.all([fileSide(a, names), fileSide(b, names)]);
  if (sa.inode?.type === 'dir' || sb.inode?.type === 'dir') {
    const [ma, mb] = await Promise.all([treeMap(a, names), treeMap(b, names)]);
    const added = [...mb.keys()].filter((k) => !ma.has(k)).sort();
    const removed = [...ma.keys()].filter((k) => !mb.has(k)).sort();
    const modified = [...mb.keys()].filter((k) => ma.has(k) && ma.get(k) !== mb.get(k)).sort();
    return { kind: 'tree', path, from: a.version, to: b.version, added, removed, modified };
  }
  const changed = sa.side.exists !== sb.side.exists || sa.side.size !== sb.side.size || sa.side.sha256 !== sb.side.sha256;
  if (!sa.data || !sb.data || isBinary(sa.data) || isBinary(sb.data)) {
    return { kind: 'binary', path, from: sa.side, to: sb.side, changed };
  }
  const patch = createTwoFilesPatch(`${path}@${a.version}`, `${path}@${b.version}`, sa.data.toString('utf8'), sb.data.toString('utf8'));
  return { kind: 'text', path, from: a.version, to: b.version, patch, changed };
}
