import { BlobRef, type KeyReader, type LogicalKey, type Store, type Version } from '../store/index.js';
import { blockKey, blockPrefix, decodeDirent, decodeInode, direntKey, direntPrefix, inodeKey, xattrKey, xattrPrefix } from './codec.js';
import { fsError } from './errors.js';
import { BLOCK_SIZE, ROOT_INO, TYPE_BITS, type DirEntry, type Inode, type Stat } from './types.js';
import type { ParsedPath } from './path.js';

const MAX_SYMLINK_HOPS = 40;

export interface Resolved {
  ino: number;
  inode: Inode;
  /** parent directory inode (root: itself) */
  parentIno: number;
  /** the final component's name ('' for the root) */
  name: string;
  /** the path after following symlinks */
  path: string;
}

/**
 * Read-only filesystem operations over one KeyReader: a committed snapshot (any version) or the
 * write batch of a transaction in progress. Every read is a point lookup or a prefix scan at that
 * version, so reading the past costs what reading the present costs.
 */
export class FsView {
  constructor(
    readonly reader: KeyReader,
    readonly store: Store,
  ) {}

  get version(): Version {
    return this.reader.version;
  }

  async inode(ino: number): Promise<Inode | undefined> {
    const raw = await this.reader.get(inodeKey(ino));
    return raw && !(raw instanceof BlobRef) ? decodeInode(raw) : undefined;
  }

  /**
   * Many inodes at once (a directory's entries). When their numbers are close together — files
   * created together get consecutive numbers — one range scan replaces a point read per inode;
   * otherwise (or inside a transaction) point reads.
   */
  async inodesOf(inos: readonly number[]): Promise<Map<number, Inode>> {
    const out = new Map<number, Inode>();
    if (inos.length === 0) return out;
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of inos) {
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
    const reader = this.reader as KeyReader & { listRange?: (from: LogicalKey, to: LogicalKey) => Promise<Array<{ key: unknown[]; value: unknown }>> };
    if (reader.listRange && inos.length >= 8 && hi - lo + 1 <= 4 * inos.length) {
      const wanted = new Set(inos);
      for (const e of await reader.listRange(inodeKey(lo), inodeKey(hi + 1))) {
        const ino = e.key[1] as number;
        if (wanted.has(ino) && !(e.value instanceof BlobRef)) out.set(ino, decodeInode(e.value as Buffer));
      }
      return out;
    }
    await Promise.all(
      inos.map(async (i) => {
        const inode = await this.inode(i);
        if (inode) out.set(i, inode);
      }),
    );
    return out;
  }

  async mustInode(ino: number, path?: string): Promise<Inode> {
    const inode = await this.inode(ino);
    if (!inode) throw fsError('ENOENT', `no such file or directory${path ? `: ${path}` : ''} (at ${this.version})`, path);
    return inode;
  }

  async lookup(parent: number, name: string): Promise<{ ino: number; type: Inode['type'] } | undefined> {
    const key = direntKey(parent, name);
    const raw = await (this.reader.getUnder ? this.reader.getUnder(direntPrefix(parent), key) : this.reader.get(key));
    return raw && !(raw instanceof BlobRef) ? decodeDirent(raw) : undefined;
  }

  /**
   * resolve() for a parsed path: one ending in '/' must name a directory (a final symlink is then
   * followed, as POSIX does for `link/`), else ENOTDIR.
   */
  async resolvePath(parsed: ParsedPath, followLast = true, displayPath?: string): Promise<Resolved> {
    const r = await this.resolve(parsed.names, followLast || parsed.dirOnly, displayPath);
    if (parsed.dirOnly && r.inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${r.path} (the path ends in '/')`, displayPath ?? r.path);
    return r;
  }

  /**
   * Walks `names` from the root. Symlinks in the middle are always followed; the last one only
   * when `followLast`. ENOENT for a missing component, ENOTDIR when a middle one is no directory,
   * ELOOP after 40 symlinks.
   */
  async resolve(names: readonly string[], followLast = true, displayPath?: string): Promise<Resolved> {
    let queue = [...names];
    let hops = 0;
    for (;;) {
      let ino = ROOT_INO;
      let parentIno = ROOT_INO;
      let inode = await this.inode(ROOT_INO);
      if (!inode) throw fsError('ENOENT', `nothing existed at version ${this.version}: it is older than this agent's first version (see History or the log for versions that exist)`, displayPath);
      const walked: string[] = [];
      let restarted = false;
      for (let i = 0; i < queue.length; i++) {
        const name = queue[i]!;
        const shown = displayPath ?? `/${queue.join('/')}`;
        if (inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: /${walked.join('/')}`, shown);
        const entry = await this.lookup(ino, name);
        if (!entry) throw fsError('ENOENT', `no such file or directory: ${shown}`, shown);
        const child = await this.mustInode(entry.ino, shown);
        const last = i === queue.length - 1;
        if (child.type === 'symlink' && (!last || followLast)) {
          if (++hops > MAX_SYMLINK_HOPS) throw fsError('ELOOP', `too many levels of symbolic links: ${shown}`, shown);
          const target = child.target ?? '';
          const base = target.startsWith('/') ? [] : walked;
          queue = [...base, ...target.split('/').filter((c) => c !== '' && c !== '.'), ...queue.slice(i + 1)];
          // normalize '..' lexically; never above the root
          const norm: string[] = [];
          for (const c of queue) {
            if (c === '..') norm.pop();
            else norm.push(c);
          }
          queue = norm;
          restarted = true;
          break;
        }
        parentIno = ino;
        ino = entry.ino;
        inode = child;
        walked.push(name);
      }
      if (!restarted) return { ino, inode, parentIno, name: walked[walked.length - 1] ?? '', path: `/${walked.join('/')}` };
    }
  }

  statOf(ino: number, inode: Inode): Stat {
    return {
      ino,
      type: inode.type,
      mode: TYPE_BITS[inode.type] | (inode.mode & 0o7777),
      uid: inode.uid,
      gid: inode.gid,
      size: inode.size,
      atimeMs: inode.atime,
      mtimeMs: inode.mtime,
      ctimeMs: inode.ctime,
      nlink: inode.nlink,
      rdev: inode.rdev ?? 0,
      blocks: Math.ceil(inode.size / 512),
      version: this.version,
      gen: inode.gen ?? 0,
    };
  }

  /** A directory's entries; `inode`: the directory's, when the caller has read it already. */
  async readdir(ino: number, path?: string, inode?: Inode): Promise<DirEntry[]> {
    inode ??= await this.mustInode(ino, path);
    if (inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${path ?? ino}`, path);
    const entries = await this.reader.list(direntPrefix(ino));
    return entries.map((e) => {
      const { ino: child, type } = decodeDirent(e.value as Buffer);
      return { name: e.key[2] as string, ino: child, type };
    });
  }

  /** The names of a directory's first `limit` entries, in key order (an emptiness check that need not list it all). */
  async firstNames(ino: number, limit: number): Promise<string[]> {
    return (await this.reader.list(direntPrefix(ino), { limit })).map((e) => e.key[2] as string);
  }

  /** Reads [offset, offset+length) of a file, clamped to its size; holes read as zeros. */
  async readContent(ino: number, inode: Inode, offset: number, length: number): Promise<Buffer> {
    if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
    const end = Math.min(inode.size, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const out = Buffer.alloc(end - offset);
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((end - 1) / BLOCK_SIZE);
    const blocks = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, i) => this.blockData(ino, first + i)),
    );
    blocks.forEach((data, i) => {
      if (!data) return; // hole
      const blockStart = (first + i) * BLOCK_SIZE;
      const from = Math.max(offset, blockStart);
      const to = Math.min(end, blockStart + data.length);
      if (to > from) data.copy(out, from - offset, from - blockStart, to - blockStart);
    });
    return out;
  }

  /**
   * [start, end) of a file in pieces (default 1 MiB), every piece read at this view's version:
   * the one way to stream a file out (CLI cat/get, WebDAV GET), resolved once, never torn.
   */
  async *readPieces(ino: number, inode: Inode, start = 0, end = inode.size, piece = 1024 * 1024): AsyncGenerator<Buffer> {
    for (let off = start; off < end; off += piece) yield await this.readContent(ino, inode, off, Math.min(piece, end - off));
  }

  /**
   * [start, end) of a file block by block, for writing straight to a socket: every block read at
   * this view's version, the next one read while the caller sends the current one. Unlike
   * readPieces, what it yields may be a view of a buffer the read and blob caches share: it must
   * never be modified (a copy per MiB cost GET 100 MiB a measurable share of its time).
   */
  async *readShared(ino: number, inode: Inode, start = 0, end = inode.size): AsyncGenerator<Buffer> {
    if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
    end = Math.min(end, inode.size);
    if (start >= end) return;
    const last = Math.floor((end - 1) / BLOCK_SIZE);
    let index = Math.floor(start / BLOCK_SIZE);
    let next: Promise<Buffer | undefined> | null = this.blockData(ino, index);
    for (; next !== null; index++) {
      const data: Buffer | undefined = await next;
      next = index < last ? this.blockData(ino, index + 1) : null;
      next?.catch(() => {}); // awaited at the next step; a consumer that stops early never sees it
      const blockStart = index * BLOCK_SIZE;
      const from = Math.max(start, blockStart) - blockStart;
      const to = Math.min(end, blockStart + BLOCK_SIZE) - blockStart;
      if (data && data.length >= to) {
        yield data.subarray(from, to);
      } else {
        // a hole, or a block stored shorter than the file's extent there: the rest reads as zeros
        const out = Buffer.alloc(to - from);
        if (data && data.length > from) data.copy(out, 0, from, data.length);
        yield out;
      }
    }
  }

  /**
   * lseek(2)'s SEEK_DATA / SEEK_HOLE on a file: the first offset >= `offset` in data, or in a hole
   * (the end of the file counts as one). Block-grained: a stored block is data to its end, a
   * missing one is a hole — what `cp`, tar and rsync need to skip holes. ENXIO at or past the end,
   * and for SEEK_DATA when only holes follow, as Linux answers.
   */
  async seekDataOrHole(ino: number, inode: Inode, offset: number, want: 'data' | 'hole'): Promise<number> {
    if (offset < 0 || offset >= inode.size) throw fsError('ENXIO', `offset ${offset} is not inside the file (size ${inode.size})`);
    let at = Math.floor(offset / BLOCK_SIZE);
    // SEEK_DATA needs the first stored block only; SEEK_HOLE walks them until one is missing
    const stored = await this.reader.list(blockPrefix(ino), { ...(at > 0 ? { after: blockKey(ino, at - 1) } : {}), ...(want === 'data' ? { limit: 1 } : {}) });
    for (const e of stored) {
      const index = e.key[2] as number;
      if (want === 'data') return Math.max(offset, index * BLOCK_SIZE);
      if (index !== at) break; // block `at` is missing: a hole
      at++;
    }
    if (want === 'data') throw fsError('ENXIO', `no data at or after offset ${offset}`);
    return Math.min(inode.size, Math.max(offset, at * BLOCK_SIZE));
  }

  async blockData(ino: number, index: number): Promise<Buffer | undefined> {
    const v = await this.reader.get(blockKey(ino, index));
    if (v === undefined) return undefined;
    return v instanceof BlobRef ? this.store.getBlob(v) : v;
  }

  /**
   * Pass the inode when you have it: one without the xattr flag has none, and no seek is needed.
   * The kernel asks for security.capability before a write and a chown of every file (untar:
   * 10,000 GETXATTRs for 5,000 files), nearly always of files with no xattrs at all.
   */
  async getxattr(ino: number, name: string, inode?: Inode): Promise<Buffer | undefined> {
    if (inode && !inode.xattr) return undefined;
    const v = await this.reader.get(xattrKey(ino, name));
    return v instanceof BlobRef ? this.store.getBlob(v) : v;
  }

  /** As getxattr: an inode without the xattr flag has none, and no scan is needed. */
  async listxattr(ino: number, inode?: Inode): Promise<string[]> {
    if (inode && !inode.xattr) return [];
    return (await this.reader.list(xattrPrefix(ino))).map((e) => e.key[2] as string);
  }

  /** Depth-first walk below a directory: (relative path, entry) pairs, parents before children. */
  async *walk(ino: number, rel = ''): AsyncGenerator<{ rel: string; entry: DirEntry; inode: Inode }> {
    for (const entry of await this.readdir(ino)) {
      const inode = await this.mustInode(entry.ino);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      yield { rel: childRel, entry, inode };
      if (inode.type === 'dir') yield* this.walk(entry.ino, childRel);
    }
  }
}
