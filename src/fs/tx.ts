import { BlobRef, type Store, type StoreValue, type WriteBatch } from '../store/index.js';
import {
  formatKey,
  blockKey,
  blockPrefix,
  direntKey,
  direntPrefix,
  encodeDirent,
  encodeInode,
  inodeKey,
  nextInoKey,
  xattrKey,
  xattrPrefix,
} from './codec.js';
import { fsError } from './errors.js';
import { checkName, isWithin, parsePath, type ParsedPath } from './path.js';
import { BLOCK_SIZE, FS_FORMAT, INLINE_MAX, ROOT_INO, type FileType, type Inode } from './types.js';
import { FsView } from './view.js';
import { Bounded } from '../util/bounded.js';

/** Largest file size accepted (8 TiB); beyond it EFBIG. */
export const MAX_FILE_SIZE = 2 ** 43;
/** Hard links an inode may have at most (EMLINK past it). */
export const MAX_LINKS = 65000;
/** copyRange per call: bytes when blocks can be shared (1 GiB), and when they must be copied (64 MiB). */
const COPY_SHARED_MAX = 1024 * 1024 * 1024;
const COPY_BYTES_MAX = 64 * 1024 * 1024;
/** The xattrs through which Linux reads and writes POSIX ACLs (see setxattr). */
const POSIX_ACL_XATTRS = new Set(['system.posix_acl_access', 'system.posix_acl_default']);
/** Above this many blocks, find existing blocks by scanning instead of deleting every index. */
const BLOCK_SCAN_THRESHOLD = 4096;
/** Blocks of one write stored at once (their chunks hashed and written out together; see Bounded). */
const STORES_AT_ONCE = 8;
const S_ISGID = 0o2000;

export interface Caller {
  uid: number;
  gid: number;
}

/** What a transaction needs from the filesystem object that runs it. */
export interface TxHost {
  readonly store: Store;
  /** Inodes held open (FUSE handles): unlinking them keeps the inode until release. */
  isOpen(ino: number): boolean;
}

/**
 * Where a directory entry is (or will be): the parent directory, the entry's name, and the path
 * that names it in the commit log. Path-based operations find it by walking the path; the FUSE
 * kernel driver, which resolves paths itself, builds it from (parent inode, name).
 */
export interface Slot {
  parentIno: number;
  parent: Inode;
  name: string;
  path: string;
}

/**
 * The inode of a node made at time `t` in directory `parent` by `caller` (unless `spec` names the
 * owner). BSD/SysV group rule: a setgid directory gives new entries its group (and new
 * directories the bit).
 */
export function newInode(parentIno: number, parent: Inode, spec: NodeSpec, caller: Caller, t: number): Inode {
  const inheritGid = (parent.mode & S_ISGID) !== 0;
  let mode = spec.mode & 0o7777;
  if (spec.type === 'dir' && inheritGid) mode |= S_ISGID;
  return {
    type: spec.type,
    mode,
    uid: spec.uid ?? caller.uid,
    gid: inheritGid ? parent.gid : (spec.gid ?? caller.gid),
    size: spec.target !== undefined ? Buffer.byteLength(spec.target) : 0,
    atime: t,
    mtime: t,
    ctime: t,
    nlink: spec.type === 'dir' ? 2 : 1,
    ...(spec.rdev ? { rdev: spec.rdev } : {}),
    ...(spec.target !== undefined ? { target: spec.target } : {}),
    ...(spec.type === 'dir' ? { parent: parentIno } : {}),
  };
}

/** What a new node is made of (createIn). */
export interface NodeSpec {
  type: FileType;
  mode: number;
  rdev?: number;
  target?: string;
  uid?: number;
  gid?: number;
  /** a reserved inode number (reserveInos) */
  ino?: number;
  /** when it was made (ms), if earlier than the transaction */
  time?: number;
}

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  mtime?: number;
  ctime?: number;
}

/**
 * Mutations of one transaction (one commit). Reads go through the batch (head + own writes);
 * inodes read here are cached and written back once, at flush(), so several operations on the
 * same inode in one commit compose. Every path that carries @version is refused with EROFS.
 */
export class FsTx extends FsView {
  private readonly inodes = new Map<number, Inode | null>();
  private readonly dirty = new Set<number>();
  private nextIno: number | null = null;

  constructor(
    readonly batch: WriteBatch,
    private readonly host: TxHost,
    readonly caller: Caller,
  ) {
    super(batch, host.store);
  }

  now(): number {
    return this.host.store.clock();
  }

  // ---- inode cache -----------------------------------------------------------------------

  override async inode(ino: number): Promise<Inode | undefined> {
    if (this.inodes.has(ino)) return this.inodes.get(ino) ?? undefined;
    const inode = (await super.inode(ino)) ?? null;
    this.inodes.set(ino, inode);
    return inode ?? undefined;
  }

  /** Marks an inode changed; flush() writes it. */
  put(ino: number, inode: Inode): void {
    this.inodes.set(ino, inode);
    this.dirty.add(ino);
  }

  /** Writes every changed inode and the inode counter. Called once, before commit. */
  flush(): void {
    for (const ino of this.dirty) {
      const inode = this.inodes.get(ino);
      if (inode) {
        inode.gen = (inode.gen ?? 0) + 1;
        this.batch.set(inodeKey(ino), encodeInode(inode));
      }
      else this.batch.delete(inodeKey(ino));
    }
    this.dirty.clear();
    if (this.nextIno !== null) this.batch.set(nextInoKey, Buffer.from(String(this.nextIno)));
  }

  private async allocIno(): Promise<number> {
    if (this.nextIno === null) {
      const raw = await this.batch.get(nextInoKey);
      this.nextIno = raw && !(raw instanceof BlobRef) ? Number(raw.toString()) : ROOT_INO + 1;
    }
    return this.nextIno++;
  }

  /**
   * Takes `count` consecutive inode numbers out of the counter and returns the first. They are
   * then this caller's to hand to createIn (`spec.ino`) in later transactions: no other
   * transaction, in any process, allocates them (numbers are never reused, so unused ones are
   * merely skipped). The FUSE mount creates files with them before committing the create.
   */
  async reserveInos(count: number): Promise<number> {
    const first = await this.allocIno();
    this.nextIno = first + count;
    return first;
  }

  private stampChange(inode: Inode, content = true, time?: number): void {
    const t = time ?? this.now();
    if (content) inode.mtime = t;
    inode.ctime = t;
  }

  /**
   * stampChange for a change made before this transaction (at `time`; undefined: now): never
   * before the inode's last change, which a commit in between may have made.
   */
  private stampMadeAt(inode: Inode, content: boolean, time: number | undefined): void {
    this.stampChange(inode, content, time === undefined ? undefined : Math.max(time, inode.ctime));
  }

  // ---- paths -----------------------------------------------------------------------------

  /** Parses a path that is about to be written: a versioned path is read-only. */
  writable(path: string): ParsedPath {
    const parsed = parsePath(path);
    if (parsed.selector) {
      throw fsError(
        'EROFS',
        `read-only: '${path}' names a past version (@${parsed.selector.text}); write to '${parsed.path}' instead, or restore with copy`,
        path,
      );
    }
    this.batch.touch(parsed.path);
    return parsed;
  }

  /** The directory that will hold a new entry, and the entry's name. */
  async parentFor(parsed: ParsedPath): Promise<Slot> {
    if (parsed.names.length === 0) throw fsError('EEXIST', 'the root directory already exists', '/');
    const name = parsed.names[parsed.names.length - 1]!;
    checkName(name, parsed.path);
    const dir = await this.resolve(parsed.names.slice(0, -1), true, parsed.path);
    if (dir.inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${dir.path}`, parsed.path);
    return { parentIno: dir.ino, parent: dir.inode, name, path: parsed.path };
  }

  /**
   * The entry `name` in directory `parentIno` (at head), checked like a path would be: a name
   * ending in @version is read-only. `path` labels the commit for history.
   */
  async slot(parentIno: number, name: string, path: string): Promise<Slot> {
    checkName(name, path);
    const parent = await this.mustInode(parentIno, path);
    if (parent.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${path}`, path);
    this.batch.touch(path);
    return { parentIno, parent, name, path };
  }

  async ensureRoot(): Promise<void> {
    if (await this.inode(ROOT_INO)) return;
    this.batch.set(formatKey, Buffer.from(String(FS_FORMAT)));
    const t = this.now();
    this.put(ROOT_INO, { type: 'dir', mode: 0o755, uid: this.caller.uid, gid: this.caller.gid, size: 0, atime: t, mtime: t, ctime: t, nlink: 2, parent: ROOT_INO });
  }

  // ---- creating --------------------------------------------------------------------------

  /** Creates a node; EEXIST when the name is taken. Returns the new inode number. */
  async createNode(path: string, spec: Omit<NodeSpec, 'ino' | 'time'>): Promise<{ ino: number; inode: Inode }> {
    const parsed = this.writable(path);
    if (spec.type !== 'dir') notDirOnly(parsed, path);
    return this.createIn(await this.parentFor(parsed), spec);
  }

  /**
   * Creates a node in a slot; EEXIST when the name is taken. `spec.ino`: a number from
   * reserveInos, instead of a new one; `spec.time`: when the node was made, if before this
   * transaction (its times, and the directory's unless that changed later).
   */
  async createIn(at: Slot, spec: NodeSpec): Promise<{ ino: number; inode: Inode }> {
    if (await this.lookup(at.parentIno, at.name)) throw fsError('EEXIST', `file exists: ${at.path}`, at.path);
    return this.addNode(at.parentIno, at.parent, at.name, spec);
  }

  private async addNode(parentIno: number, parent: Inode, name: string, spec: NodeSpec): Promise<{ ino: number; inode: Inode }> {
    const ino = spec.ino ?? (await this.allocIno());
    const inode = newInode(parentIno, parent, spec, this.caller, spec.time ?? this.now());
    this.put(ino, inode);
    this.batch.set(direntKey(parentIno, name), encodeDirent(ino, spec.type));
    // inode numbers are never reused: nothing was ever listed under a new directory
    if (spec.type === 'dir') this.batch.assumeEmpty(direntPrefix(ino));
    if (spec.type === 'dir') parent.nlink += 1;
    // a node made earlier: not before the directory's last change (ctime, which no caller sets)
    this.stampMadeAt(parent, true, spec.time);
    this.put(parentIno, parent);
    return { ino, inode };
  }

  async mkdir(path: string, mode = 0o777): Promise<number> {
    return (await this.createNode(path, { type: 'dir', mode })).ino;
  }

  /** mkdir -p: creates missing directories; existing directories are fine, anything else ENOTDIR. */
  async mkdirp(path: string, mode = 0o777): Promise<void> {
    const parsed = this.writable(path);
    for (let i = 1; i <= parsed.names.length; i++) {
      const sub = `/${parsed.names.slice(0, i).join('/')}`;
      try {
        const r = await this.resolve(parsed.names.slice(0, i), true, sub);
        if (r.inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${sub}`, sub);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw err;
        await this.mkdir(sub, mode);
      }
    }
  }

  async symlink(target: string, path: string): Promise<number> {
    return (await this.symlinkIn(await this.parentFor(notDirOnly(this.writable(path), path)), target)).ino;
  }

  async symlinkIn(at: Slot, target: string): Promise<{ ino: number; inode: Inode }> {
    if (target === '') throw fsError('ENOENT', 'empty symlink target', at.path);
    if (Buffer.byteLength(target) > 4095) throw fsError('ENAMETOOLONG', 'symlink target too long', at.path);
    return this.createIn(at, { type: 'symlink', mode: 0o777, target });
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    const src = this.writable(existingPath);
    const target = await this.resolvePath(src, false, src.path);
    await this.linkIn(target.ino, await this.parentFor(notDirOnly(this.writable(newPath), newPath)), src.path);
  }

  /** Adds a name for inode `ino` (not a directory) in a slot; returns the inode as changed. `time` as for unlinkIn. */
  async linkIn(ino: number, at: Slot, srcPath = `inode ${ino}`, time?: number): Promise<Inode> {
    const inode = await this.mustInode(ino, srcPath);
    if (inode.type === 'dir') throw fsError('EPERM', `hard links to directories are not allowed: ${srcPath}`, srcPath);
    if (await this.lookup(at.parentIno, at.name)) throw fsError('EEXIST', `file exists: ${at.path}`, at.path);
    if (inode.nlink >= MAX_LINKS) throw fsError('EMLINK', 'too many links', srcPath);
    this.batch.set(direntKey(at.parentIno, at.name), encodeDirent(ino, inode.type));
    inode.nlink += 1;
    this.stampMadeAt(inode, false, time);
    this.put(ino, inode);
    this.stampMadeAt(at.parent, true, time);
    this.put(at.parentIno, at.parent);
    return inode;
  }

  // ---- content ---------------------------------------------------------------------------

  /** Opens (creating or truncating as asked) a regular file for writing and returns its inode number. */
  async openFile(path: string, options: { create?: boolean; exclusive?: boolean; truncate?: boolean; mode?: number } = {}): Promise<number> {
    const parsed = this.writable(path);
    let existing;
    try {
      existing = await this.resolvePath(parsed, true, path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT' || !options.create) throw err;
      notDirOnly(parsed, path);
    }
    if (existing) {
      if (options.exclusive) throw fsError('EEXIST', `file exists: ${parsed.path}`, parsed.path);
      if (existing.inode.type === 'dir') throw fsError('EISDIR', `is a directory: ${parsed.path}`, parsed.path);
      if (options.truncate && existing.inode.size > 0) await this.truncateIno(existing.ino, 0);
      return existing.ino;
    }
    return (await this.createNode(await this.createTarget(parsed), { type: 'file', mode: options.mode ?? 0o644 })).ino;
  }

  /**
   * Where O_CREAT creates a file: the path itself, or — when the final component is a dangling
   * symlink — the path it points to (POSIX open follows it; O_EXCL would refuse, handled above).
   */
  private async createTarget(parsed: ParsedPath): Promise<string> {
    let names = parsed.names;
    for (let hops = 0; hops < 40; hops++) {
      let link;
      try {
        link = await this.resolve(names, false);
      } catch {
        return `/${names.join('/')}`;
      }
      if (link.inode.type !== 'symlink') return `/${names.join('/')}`;
      const target = link.inode.target ?? '';
      const joined = target.startsWith('/') ? target : `/${[...names.slice(0, -1), target].join('/')}`;
      names = parsePath(joined).names;
    }
    throw fsError('ELOOP', `too many levels of symbolic links: ${parsed.path}`, parsed.path);
  }

  async writeFile(path: string, data: Buffer, mode = 0o644): Promise<number> {
    const ino = await this.openFile(path, { create: true, truncate: true, mode });
    if (data.length > 0) await this.writeIno(ino, 0, data);
    else {
      const inode = await this.mustInode(ino);
      this.stampChange(inode);
      this.put(ino, inode);
    }
    return ino;
  }

  /** Writes data at offset; only the touched blocks are stored anew. */
  /** `time`: when the write happened, if earlier than this commit (write-back of a FUSE mount) */
  async writeIno(ino: number, offset: number, data: Buffer, time?: number): Promise<void> {
    const inode = await this.mustInode(ino);
    if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
    if (inode.type !== 'file') throw fsError('EINVAL', `not a regular file (${inode.type})`);
    if (offset < 0 || !Number.isSafeInteger(offset)) throw fsError('EINVAL', `invalid offset ${offset}`);
    if (offset + data.length > MAX_FILE_SIZE) throw fsError('EFBIG', `file would exceed ${MAX_FILE_SIZE} bytes`);
    if (data.length === 0) return;
    const end = offset + data.length;
    const newSize = Math.max(inode.size, end);
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((end - 1) / BLOCK_SIZE);
    // the blocks are stored together: one chunk's hash is computed while another is written out
    const stores = new Bounded(STORES_AT_ONCE);
    for (let bi = first; bi <= last; bi++) {
      const blockStart = bi * BLOCK_SIZE;
      const from = Math.max(offset, blockStart) - blockStart;
      const to = Math.min(end, blockStart + BLOCK_SIZE) - blockStart;
      const slice = data.subarray(blockStart + from - offset, blockStart + to - offset);
      const oldMax = Math.max(0, Math.min(BLOCK_SIZE, inode.size - blockStart));
      let content: Buffer;
      if (from === 0 && to >= oldMax) {
        content = slice;
      } else {
        const old = (await this.blockData(ino, bi)) ?? Buffer.alloc(0);
        content = Buffer.alloc(Math.max(old.length, to));
        old.copy(content);
        slice.copy(content, from);
      }
      await stores.add(this.storeBlock(ino, bi, content));
    }
    await stores.settle();
    inode.size = newSize;
    this.stampChange(inode, true, time);
    this.put(ino, inode);
  }

  private async storeBlock(ino: number, index: number, content: Buffer): Promise<void> {
    if (isZero(content)) {
      this.batch.delete(blockKey(ino, index)); // a hole reads as zeros
    } else if (content.length <= INLINE_MAX) {
      // not copied: the store encodes it into a buffer of its own before anything keeps it
      this.batch.set(blockKey(ino, index), content);
    } else {
      this.batch.set(blockKey(ino, index), await this.store.putBlob(Buffer.from(content)));
    }
  }

  /**
   * Replaces a file's whole content with already-stored blocks (from a BlockStager): the commit
   * writes block references only, whatever the file size.
   */
  async setContent(ino: number, blocks: ReadonlyArray<StoreValue | undefined>, size: number): Promise<void> {
    const inode = await this.mustInode(ino);
    if (inode.type !== 'file') throw fsError(inode.type === 'dir' ? 'EISDIR' : 'EINVAL', 'not a regular file');
    if (size > MAX_FILE_SIZE) throw fsError('EFBIG', `file would exceed ${MAX_FILE_SIZE} bytes`);
    const oldCount = Math.ceil(inode.size / BLOCK_SIZE);
    for (const bi of await this.blockIndexes(ino, blocks.length, oldCount)) this.batch.delete(blockKey(ino, bi));
    blocks.forEach((v, bi) => {
      if (v === undefined) this.batch.delete(blockKey(ino, bi));
      else this.batch.set(blockKey(ino, bi), v);
    });
    inode.size = size;
    this.stampChange(inode);
    this.put(ino, inode);
  }

  /** Block indexes in [from, to) that may hold data. */
  private async blockIndexes(ino: number, from: number, to: number): Promise<number[]> {
    if (to <= from) return [];
    if (to - from <= BLOCK_SCAN_THRESHOLD) return Array.from({ length: to - from }, (_, i) => from + i);
    return (await this.batch.list(blockPrefix(ino)))
      .map((e) => e.key[2] as number)
      .filter((i) => i >= from && i < to);
  }

  async truncateIno(ino: number, size: number): Promise<void> {
    const inode = await this.mustInode(ino);
    if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
    if (inode.type !== 'file') throw fsError('EINVAL', `not a regular file (${inode.type})`);
    if (size < 0 || !Number.isSafeInteger(size)) throw fsError('EINVAL', `invalid size ${size}`);
    if (size > MAX_FILE_SIZE) throw fsError('EFBIG', `size exceeds ${MAX_FILE_SIZE} bytes`);
    if (size < inode.size) {
      const keep = Math.ceil(size / BLOCK_SIZE);
      for (const bi of await this.blockIndexes(ino, keep, Math.ceil(inode.size / BLOCK_SIZE))) this.batch.delete(blockKey(ino, bi));
      const tail = size % BLOCK_SIZE;
      if (tail !== 0) {
        const bi = Math.floor(size / BLOCK_SIZE);
        const old = await this.blockData(ino, bi);
        if (old && old.length > tail) await this.storeBlock(ino, bi, old.subarray(0, tail));
      }
    }
    inode.size = size;
    this.stampChange(inode);
    this.put(ino, inode);
  }

  /**
   * fallocate(2) with the modes the Linux kernel lets a FUSE filesystem see. Space is never
   * reserved (the store has no per-file allocation): plain allocation only grows the size, unless
   * `keepSize`; `punchHole` (with keepSize, as Linux requires) and `zeroRange` zero the range,
   * dropping every block inside it whole — a hole costs nothing and reads as zeros. `zeroRange`
   * without keepSize grows the size to cover the range.
   */
  async fallocate(ino: number, offset: number, length: number, mode: { keepSize?: boolean; punchHole?: boolean; zeroRange?: boolean }): Promise<void> {
    const inode = await this.mustInode(ino);
    if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
    if (inode.type !== 'file') throw fsError('EINVAL', `fallocate needs a regular file (${inode.type})`);
    if (offset < 0 || length <= 0 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) throw fsError('EINVAL', `invalid range ${offset}+${length}`);
    if (mode.punchHole && !mode.keepSize) throw fsError('ENOTSUP', 'punching a hole needs FALLOC_FL_KEEP_SIZE');
    if (mode.punchHole && mode.zeroRange) throw fsError('EINVAL', 'FALLOC_FL_PUNCH_HOLE and FALLOC_FL_ZERO_RANGE together');
    const end = offset + length;
    if (end > MAX_FILE_SIZE) throw fsError('EFBIG', `file would exceed ${MAX_FILE_SIZE} bytes`);
    const oldSize = inode.size;
    const zeroes = (mode.punchHole === true || mode.zeroRange === true) && offset < oldSize;
    if (zeroes) await this.zeroRange(ino, offset, Math.min(end, oldSize));
    const grows = !mode.keepSize && end > oldSize;
    if (grows) inode.size = end;
    if (!grows && !zeroes) return; // nothing changed: no commit, times untouched (as ext4)
    this.stampChange(inode);
    this.put(ino, inode);
  }

  /**
   * copy_file_range(2): copies up to `length` bytes of file `src.ino` as `src.view` sees it (this
   * transaction for the present, or a past version) from `srcOffset` into `dstIno` at `dstOffset`,
   * and returns how many it copied — fewer at the source's end and past COPY_SHARED_MAX /
   * COPY_BYTES_MAX per call (callers loop, as for write(2)). Where source and destination sit at
   * the same place in their blocks, every block the range covers whole is shared, not copied: the
   * destination gets the source's stored value — a chunk reference, inline bytes or a hole — so
   * `cp` of a big file, or a restore from the past, adds no chunk. The rest is read and written.
   */
  async copyRange(src: { view: FsView; ino: number }, srcOffset: number, dstIno: number, dstOffset: number, length: number): Promise<number> {
    const from = await src.view.mustInode(src.ino);
    const to = await this.mustInode(dstIno);
    for (const inode of [from, to]) {
      if (inode.type === 'dir') throw fsError('EISDIR', 'is a directory');
      if (inode.type !== 'file') throw fsError('EINVAL', `not a regular file (${inode.type})`);
    }
    if (srcOffset < 0 || dstOffset < 0 || length < 0 || ![srcOffset, dstOffset, length].every(Number.isSafeInteger)) throw fsError('EINVAL', 'invalid range');
    const aligned = srcOffset % BLOCK_SIZE === dstOffset % BLOCK_SIZE;
    const n = Math.min(length, Math.max(0, from.size - srcOffset), aligned ? COPY_SHARED_MAX : COPY_BYTES_MAX);
    if (n === 0) return 0;
    if (dstOffset + n > MAX_FILE_SIZE) throw fsError('EFBIG', `file would exceed ${MAX_FILE_SIZE} bytes`);
    for (let done = 0; done < n; ) {
      const s = srcOffset + done;
      const d = dstOffset + done;
      // a piece ends where the destination's block ends (or the range does)
      const piece = Math.min(n - done, BLOCK_SIZE - (d % BLOCK_SIZE));
      if (aligned && piece === BLOCK_SIZE) {
        const value = await src.view.reader.get(blockKey(src.ino, s / BLOCK_SIZE));
        if (value === undefined) this.batch.delete(blockKey(dstIno, d / BLOCK_SIZE));
        else this.batch.set(blockKey(dstIno, d / BLOCK_SIZE), value);
      } else {
        await this.writeIno(dstIno, d, await src.view.readContent(src.ino, from, s, piece));
      }
      done += piece;
    }
    to.size = Math.max(to.size, dstOffset + n);
    this.stampChange(to);
    this.put(dstIno, to);
    return n;
  }

  /** Zeroes [from, to) of a file's stored content (to <= its size): whole blocks become holes. */
  private async zeroRange(ino: number, from: number, to: number): Promise<void> {
    if (to <= from) return;
    for (const bi of await this.blockIndexes(ino, Math.floor(from / BLOCK_SIZE), Math.ceil(to / BLOCK_SIZE))) {
      const blockStart = bi * BLOCK_SIZE;
      const a = Math.max(from, blockStart) - blockStart;
      const b = Math.min(to, blockStart + BLOCK_SIZE) - blockStart;
      if (a === 0 && b === BLOCK_SIZE) {
        this.batch.delete(blockKey(ino, bi)); // covered whole: no need to read it (a 1 MiB chunk)
        continue;
      }
      const old = await this.blockData(ino, bi);
      if (!old || a >= old.length) continue; // a hole, or past the stored bytes (those read as zeros)
      if (a === 0 && b >= old.length) {
        this.batch.delete(blockKey(ino, bi));
        continue;
      }
      const content = Buffer.from(old);
      content.fill(0, a, Math.min(b, content.length));
      await this.storeBlock(ino, bi, content);
    }
  }

  // ---- attributes --------------------------------------------------------------------------

  async setattr(ino: number, attr: SetAttr): Promise<Inode> {
    if (attr.size !== undefined) await this.truncateIno(ino, attr.size);
    const inode = await this.mustInode(ino);
    if (attr.mode !== undefined) inode.mode = attr.mode & 0o7777;
    if (attr.uid !== undefined && attr.uid !== -1) inode.uid = attr.uid;
    if (attr.gid !== undefined && attr.gid !== -1) inode.gid = attr.gid;
    if (attr.atime !== undefined) inode.atime = attr.atime;
    if (attr.mtime !== undefined) inode.mtime = attr.mtime;
    inode.ctime = attr.ctime ?? this.now();
    this.put(ino, inode);
    return inode;
  }

  async setxattr(ino: number, name: string, value: Buffer, flags: { create?: boolean; replace?: boolean } = {}): Promise<void> {
    if (name === '' || Buffer.byteLength(name) > 255) throw fsError('ERANGE', `invalid xattr name '${name}'`);
    // A POSIX ACL is not an opaque value: writing one must change the mode (its base entries are
    // the permission bits), and the kernel leaves that to us. Stored as plain bytes, `sed -i` left
    // files at its temporary file's 0600 with an ACL nothing enforced. Refused as on a filesystem
    // without ACLs: sed, cp -p and friends then fall back to chmod.
    if (POSIX_ACL_XATTRS.has(name)) throw fsError('ENOTSUP', `POSIX ACLs are not supported (${name}): set permissions with chmod`);
    if (value.length > 64 * 1024) throw fsError('ERANGE', 'xattr value larger than 64 KiB');
    const inode = await this.mustInode(ino);
    const exists = (await this.batch.get(xattrKey(ino, name))) !== undefined;
    if (flags.create && exists) throw fsError('EEXIST', `xattr ${name} exists`);
    if (flags.replace && !exists) throw fsError('ENODATA', `no xattr ${name}`);
    this.batch.set(xattrKey(ino, name), Buffer.from(value));
    inode.xattr = true;
    this.stampChange(inode, false);
    this.put(ino, inode);
  }

  async removexattr(ino: number, name: string): Promise<void> {
    const inode = await this.mustInode(ino);
    if ((await this.batch.get(xattrKey(ino, name))) === undefined) throw fsError('ENODATA', `no xattr ${name}`);
    this.batch.delete(xattrKey(ino, name));
    if ((await this.batch.list(xattrPrefix(ino), { limit: 1 })).length === 0) delete inode.xattr;
    this.stampChange(inode, false);
    this.put(ino, inode);
  }

  // ---- removing ----------------------------------------------------------------------------

  /** Drops one link to a non-directory; the inode goes with its last link unless it is open. */
  private async dropLink(ino: number, inode: Inode, time?: number): Promise<void> {
    inode.nlink -= 1;
    this.stampMadeAt(inode, false, time);
    if (inode.nlink > 0 || this.host.isOpen(ino)) this.put(ino, inode);
    else await this.destroy(ino, inode);
  }

  /** Deletes every xattr of an inode (history keeps them). */
  private async dropXattrs(ino: number, inode: Inode): Promise<void> {
    if (!inode.xattr) return;
    for (const e of await this.batch.list(xattrPrefix(ino))) this.batch.delete(e.key);
    delete inode.xattr;
  }

  /** Deletes an inode with its content and xattrs (history keeps them). */
  async destroy(ino: number, inode: Inode): Promise<void> {
    if (inode.type === 'file') {
      for (const bi of await this.blockIndexes(ino, 0, Math.ceil(inode.size / BLOCK_SIZE))) this.batch.delete(blockKey(ino, bi));
    }
    await this.dropXattrs(ino, inode);
    this.inodes.set(ino, null);
    this.dirty.add(ino);
  }

  async unlink(path: string): Promise<void> {
    return this.unlinkIn(await this.parentFor(notDirOnly(this.writable(path), path)));
  }

  /**
   * Removes the entry of a non-directory. `time`: when it was removed, if before this transaction
   * (the FUSE mount's removals committed later): the directory's and inode's ctime, unless they
   * changed later.
   */
  async unlinkIn(at: Slot, time?: number): Promise<void> {
    const entry = await this.lookup(at.parentIno, at.name);
    if (!entry) throw fsError('ENOENT', `no such file or directory: ${at.path}`, at.path);
    const inode = await this.mustInode(entry.ino, at.path);
    if (inode.type === 'dir') throw fsError('EISDIR', `is a directory (use rmdir or a recursive delete): ${at.path}`, at.path);
    this.batch.delete(direntKey(at.parentIno, at.name));
    this.stampMadeAt(at.parent, true, time);
    this.put(at.parentIno, at.parent);
    await this.dropLink(entry.ino, inode, time);
  }

  async rmdir(path: string): Promise<void> {
    const parsed = this.writable(path);
    if (parsed.names.length === 0) throw fsError('EBUSY', 'cannot remove the root directory', '/');
    return this.rmdirIn(await this.parentFor(parsed));
  }

  /** Removes an empty directory; `time` as for unlinkIn. */
  async rmdirIn(at: Slot, time?: number): Promise<void> {
    const entry = await this.lookup(at.parentIno, at.name);
    if (!entry) throw fsError('ENOENT', `no such file or directory: ${at.path}`, at.path);
    const inode = await this.mustInode(entry.ino, at.path);
    if (inode.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${at.path}`, at.path);
    if ((await this.batch.list(['e', entry.ino], { limit: 1 })).length > 0) {
      throw fsError('ENOTEMPTY', `directory not empty: ${at.path}`, at.path);
    }
    this.batch.delete(direntKey(at.parentIno, at.name));
    at.parent.nlink -= 1;
    this.stampMadeAt(at.parent, true, time);
    this.put(at.parentIno, at.parent);
    await this.destroy(entry.ino, inode);
  }

  /** rm -r: removes a file, symlink or whole tree. */
  async remove(path: string, recursive: boolean): Promise<void> {
    const parsed = this.writable(path);
    if (parsed.names.length === 0) throw fsError('EBUSY', 'cannot remove the root directory', '/');
    if (parsed.dirOnly) await this.resolvePath(parsed, true, path);
    const target = await this.resolve(parsed.names, false, parsed.path);
    if (target.inode.type !== 'dir') return this.unlink(parsed.path);
    if (recursive) await this.emptyDir(target.ino, parsed.path);
    await this.rmdir(parsed.path);
  }

  private async emptyDir(ino: number, path: string): Promise<void> {
    const dir = await this.mustInode(ino, path);
    for (const entry of await this.readdir(ino, path)) {
      const child = await this.mustInode(entry.ino);
      if (child.type === 'dir') {
        await this.emptyDir(entry.ino, `${path}/${entry.name}`);
        dir.nlink -= 1;
        await this.destroy(entry.ino, child);
      } else {
        await this.dropLink(entry.ino, child);
      }
      this.batch.delete(direntKey(ino, entry.name));
    }
    this.stampChange(dir);
    this.put(ino, dir);
  }

  // ---- rename ------------------------------------------------------------------------------

  async rename(srcPath: string, dstPath: string, options: { noReplace?: boolean } = {}): Promise<void> {
    const src = this.writable(srcPath);
    const dst = this.writable(dstPath);
    if (src.names.length === 0 || dst.names.length === 0) throw fsError('EBUSY', 'cannot rename the root directory', '/');
    // a trailing '/' on either side: only a directory may move (rename(2) gives ENOTDIR)
    if ((src.dirOnly || dst.dirOnly) && (await this.resolve(src.names, false, srcPath)).inode.type !== 'dir') {
      throw fsError('ENOTDIR', `not a directory: ${src.path} (${src.dirOnly ? srcPath : dstPath} ends in '/')`, src.dirOnly ? srcPath : dstPath);
    }
    await this.renameIn(await this.parentFor(src), await this.parentFor(dst), options);
  }

  /** Moves the entry at `s` to `d` (replacing what is there, as rename(2) does); returns the moved inode. */
  async renameIn(s: Slot, d: Slot, options: { noReplace?: boolean } = {}): Promise<number> {
    const entry = await this.lookup(s.parentIno, s.name);
    if (!entry) throw fsError('ENOENT', `no such file or directory: ${s.path}`, s.path);
    const inode = await this.mustInode(entry.ino, s.path);
    if (inode.type === 'dir') {
      // no moving a directory into itself: walk up from the destination's parent
      for (let cur = d.parentIno; ; ) {
        if (cur === entry.ino) throw fsError('EINVAL', `cannot move ${s.path} into itself (${d.path})`, d.path);
        if (cur === ROOT_INO) break;
        const up = await this.mustInode(cur);
        cur = up.parent ?? ROOT_INO;
      }
    }
    const existing = await this.lookup(d.parentIno, d.name);
    if (existing) {
      if (existing.ino === entry.ino) return entry.ino; // same file: POSIX says do nothing
      if (options.noReplace) throw fsError('EEXIST', `file exists: ${d.path}`, d.path);
      const victim = await this.mustInode(existing.ino, d.path);
      if (inode.type === 'dir') {
        if (victim.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${d.path}`, d.path);
        if ((await this.batch.list(['e', existing.ino], { limit: 1 })).length > 0) {
          throw fsError('ENOTEMPTY', `directory not empty: ${d.path}`, d.path);
        }
        d.parent.nlink -= 1;
        await this.destroy(existing.ino, victim);
      } else {
        if (victim.type === 'dir') throw fsError('EISDIR', `is a directory: ${d.path}`, d.path);
        await this.dropLink(existing.ino, victim);
      }
    }
    this.batch.delete(direntKey(s.parentIno, s.name));
    this.batch.set(direntKey(d.parentIno, d.name), encodeDirent(entry.ino, inode.type));
    if (inode.type === 'dir' && s.parentIno !== d.parentIno) {
      s.parent.nlink -= 1;
      d.parent.nlink += 1;
      inode.parent = d.parentIno;
    }
    this.stampChange(inode, false);
    this.put(entry.ino, inode);
    this.stampChange(s.parent);
    this.put(s.parentIno, s.parent);
    this.stampChange(d.parent);
    this.put(d.parentIno, d.parent);
    return entry.ino;
  }

  // ---- copy (the restore primitive) ----------------------------------------------------------

  /**
   * Copies `srcPath` as seen by `from` (any version) to `dstPath` at head, recursively. Content is
   * shared: blocks are copied as references (chunk hashes or inline bytes), so copying a 1 GiB tree
   * writes metadata only. An existing destination file is replaced; an existing directory is EEXIST
   * — except a directory copied from the past onto its own path, which is restored (restoreDir).
   */
  async copyFrom(from: FsView, srcPath: string, dstPath: string): Promise<CopyCounts> {
    const src = parsePath(srcPath);
    const dst = this.writable(dstPath);
    const source = await from.resolvePath(src, false, srcPath);
    if (source.inode.type !== 'dir') notDirOnly(dst, dstPath);
    if (source.inode.type === 'dir' && from.version !== this.version && src.path === dst.path) {
      const restored = await this.restoreDir(from, source.ino, source.inode, dst);
      if (restored) return { ...restored, restored: true };
    }
    const { parentIno, parent, name } = await this.parentFor(dst);
    const existing = await this.lookup(parentIno, name);
    // the file onto itself, as it is now (`cp f f`, a hard link of it): nothing to change, no commit
    if (existing && existing.ino === source.ino && from.version === this.version && source.inode.type !== 'dir') return { files: 0, dirs: 0, bytes: 0, restored: false };
    if (existing) {
      const victim = await this.mustInode(existing.ino, dst.path);
      if (victim.type === 'dir') throw fsError('EEXIST', `destination is an existing directory: ${dst.path}`, dst.path);
      if (source.inode.type === 'dir') throw fsError('EEXIST', `destination exists and is not a directory: ${dst.path}`, dst.path);
      this.batch.delete(direntKey(parentIno, name));
      await this.dropLink(existing.ino, victim);
    }
    if (source.inode.type === 'dir' && from.version === this.version && isWithin(dst.path, source.path)) {
      throw fsError('EINVAL', `cannot copy ${source.path} into itself (${dst.path})`, dst.path);
    }
    const counts = { files: 0, dirs: 0, bytes: 0 };
    await this.copyNode(from, source.ino, source.inode, parentIno, parent, name, counts);
    return { ...counts, restored: false };
  }

  /**
   * "Put this directory back as it was at V" (`cp -r D@V D`, Copy with src_version): the directory
   * at head keeps its inode (a shell or program inside it on the mount stays valid) and gets the
   * past directory's entries and attributes; everything added since goes, everything changed or
   * deleted since comes back — one commit, and history keeps the state it replaces. Returns null
   * when there is no directory at the path now (then it is an ordinary copy).
   */
  private async restoreDir(from: FsView, srcIno: number, past: Inode, dst: ParsedPath): Promise<{ files: number; dirs: number; bytes: number } | null> {
    let now: { ino: number; inode: Inode };
    try {
      now = await this.resolve(dst.names, false, dst.path);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
      throw err;
    }
    if (now.inode.type !== 'dir') return null;
    await this.emptyDir(now.ino, dst.path);
    const dir = now.inode;
    await this.dropXattrs(now.ino, dir);
    const counts = { files: 0, dirs: 1, bytes: 0 };
    for (const child of await from.readdir(srcIno)) {
      await this.copyNode(from, child.ino, await from.mustInode(child.ino), now.ino, dir, child.name, counts);
    }
    await this.copyAttributes(from, srcIno, past, now.ino, dir);
    this.stampChange(dir, false);
    this.put(now.ino, dir);
    return counts;
  }

  /** mode, owner, times and xattrs of `srcIno` (in `from`) onto `ino`; set after its entries, which stamp the times. */
  private async copyAttributes(from: FsView, srcIno: number, srcInode: Inode, ino: number, inode: Inode): Promise<void> {
    inode.mode = srcInode.mode;
    inode.uid = srcInode.uid;
    inode.gid = srcInode.gid;
    inode.mtime = srcInode.mtime;
    inode.atime = srcInode.atime;
    if (srcInode.xattr) {
      for (const e of await from.reader.list(xattrPrefix(srcIno))) this.batch.set(xattrKey(ino, e.key[2] as string), e.value);
      inode.xattr = true;
    }
  }

  private async copyNode(
    from: FsView,
    srcIno: number,
    srcInode: Inode,
    parentIno: number,
    parent: Inode,
    name: string,
    counts: { files: number; dirs: number; bytes: number },
  ): Promise<void> {
    const { ino, inode } = await this.addNode(parentIno, parent, name, {
      type: srcInode.type,
      mode: srcInode.mode,
      uid: srcInode.uid,
      gid: srcInode.gid,
      ...(srcInode.rdev ? { rdev: srcInode.rdev } : {}),
      ...(srcInode.target !== undefined ? { target: srcInode.target } : {}),
    });
    inode.size = srcInode.size;
    if (srcInode.type === 'file') {
      counts.files++;
      counts.bytes += srcInode.size;
      const n = Math.ceil(srcInode.size / BLOCK_SIZE);
      const indexes =
        n <= BLOCK_SCAN_THRESHOLD
          ? Array.from({ length: n }, (_, i) => i)
          : (await from.reader.list(blockPrefix(srcIno))).map((e) => e.key[2] as number).filter((i) => i < n);
      for (const bi of indexes) {
        const v: StoreValue | undefined = await from.reader.get(blockKey(srcIno, bi));
        if (v !== undefined) this.batch.set(blockKey(ino, bi), v);
      }
    } else if (srcInode.type === 'dir') {
      counts.dirs++;
      for (const child of await from.readdir(srcIno)) {
        const childInode = await from.mustInode(child.ino);
        await this.copyNode(from, child.ino, childInode, ino, inode, child.name, counts);
      }
    }
    await this.copyAttributes(from, srcIno, srcInode, ino, inode);
    this.put(ino, inode);
  }
}

/** What copyFrom did: files, directories and bytes copied; restored: a directory was put back in place (restoreDir). */
export interface CopyCounts {
  files: number;
  dirs: number;
  bytes: number;
  restored: boolean;
}

const ZEROS = Buffer.alloc(BLOCK_SIZE);
/** memcmp against a zero block: far faster than a byte loop in JS. */
const isZero = (buf: Buffer): boolean => buf.length <= BLOCK_SIZE && ZEROS.subarray(0, buf.length).equals(buf);

/** Refuses a path ending in '/' where a non-directory is to be named (POSIX: ENOTDIR). */
function notDirOnly(parsed: ParsedPath, path: string): ParsedPath {
  if (parsed.dirOnly) throw fsError('ENOTDIR', `not a directory: '${path}' ends in '/', so it must name a directory (to put a file in ${parsed.path}, give its name: ${parsed.path}/NAME)`, path);
  return parsed;
}
