/**
 * The FUSE kernel protocol (include/uapi/linux/fuse.h), the parts timefs speaks: opcodes, flags and
 * the byte layout of every structure we read or write. All integers are little-endian (x86-64 and
 * arm64 are; the kernel speaks the host's order). We announce protocol 7.31 and only use structures
 * that have been stable since then, so any kernel from 5.4 on works.
 */

export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR = 31;
export const ROOT_ID = 1;

export const Op = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
} as const;

/** fuse_init_in/out flags we ask for (the kernel grants the intersection). */
export const Init = {
  ASYNC_READ: 1 << 0,
  /** open(O_TRUNC) is one OPEN carrying O_TRUNC, not an OPEN and then a SETATTR of size 0 */
  ATOMIC_O_TRUNC: 1 << 3,
  BIG_WRITES: 1 << 5,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  PARALLEL_DIROPS: 1 << 18,
  CACHE_SYMLINKS: 1 << 23,
  /** init_out.max_pages is valid: requests of up to that many pages (default 32) */
  MAX_PAGES: 1 << 22,
  /** the kernel opens directories itself once OPENDIR answers ENOSYS (Linux 5.1+) */
  NO_OPENDIR_SUPPORT: 1 << 24,
  HANDLE_KILLPRIV_V2: 1 << 28,
} as const;

/** fuse_fallocate_in.mode: the fallocate(2) flags the kernel passes to a FUSE filesystem */
export const Falloc = {
  KEEP_SIZE: 0x01,
  PUNCH_HOLE: 0x02,
  ZERO_RANGE: 0x10,
} as const;

/** With HANDLE_KILLPRIV_V2 the kernel asks us to clear set-user/group-ID bits: fuse_write_in.write_flags */
export const WRITE_KILL_SUIDGID = 1 << 2;
/** ...and for open(O_TRUNC) by a caller without CAP_FSETID: fuse_open_in.open_flags */
export const OPEN_KILL_SUIDGID = 1 << 0;

/** setattr `valid` bits */
export const Fattr = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  CTIME: 1 << 10,
  /** HANDLE_KILLPRIV_V2: clear set-user/group-ID bits (truncate without CAP_FSETID, any chown of a non-directory) */
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out flags */
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_CACHE_DIR = 1 << 3;
/** no FLUSH at close (Linux 5.19+; older kernels ignore the bit and send it) */
export const FOPEN_NOFLUSH = 1 << 5;

export const IN_HEADER = 40;
export const OUT_HEADER = 16;

/**
 * fuse_out_header for a message of `payload` bytes after it: a reply (error 0 or a negative errno,
 * `unique` of the request) or a notification (error = the notify code, unique 0).
 */
export function outHeader(payload: number, error: number, unique: bigint): Buffer {
  const b = Buffer.allocUnsafe(OUT_HEADER);
  b.writeUInt32LE(OUT_HEADER + payload, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
  return b;
}
const ATTR_SIZE = 88;
export const ENTRY_OUT = 40 + ATTR_SIZE;
export const ATTR_OUT = 16 + ATTR_SIZE;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

/** fuse_in_header.nodeid alone: what the barriers look at for every request, without the rest. */
export const nodeidOf = (b: Buffer): number => Number(b.readBigUInt64LE(16));

/** The name at byte `off` of a whole request's body (what the barriers read of LOOKUP, CREATE, MKDIR, UNLINK). */
export const nameIn = (req: Buffer, off: number): string => cstring(req.subarray(IN_HEADER, req.readUInt32LE(0)), off)[0];

export function readInHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: nodeidOf(b),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
  };
}

/** Attributes as the kernel wants them: times split into seconds and nanoseconds. */
export interface Attr {
  ino: number;
  size: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
}

const TWO_32 = 0x1_0000_0000;

/**
 * A safe integer as a little-endian 64-bit field (two's complement when negative). Without a
 * BigInt per field: writeBigUInt64LE(BigInt(n)) was 7.5% of a READDIRPLUS (ten such fields per entry).
 */
export function write64(b: Buffer, n: number, off: number): void {
  const hi = Math.floor(n / TWO_32);
  b.writeUInt32LE(n - hi * TWO_32, off);
  b.writeInt32LE(hi, off + 4);
}

/** ms (with a fractional µs part) → [seconds, nanoseconds]; negative times round toward -∞. */
export function splitTime(ms: number): [number, number] {
  const s = Math.floor(ms / 1000);
  const ns = Math.min(999_999_999, Math.max(0, Math.round((ms - s * 1000) * 1e6)));
  return [s, ns];
}

export function writeAttr(b: Buffer, off: number, a: Attr): void {
  write64(b, a.ino, off);
  write64(b, a.size, off + 8);
  write64(b, a.blocks, off + 16);
  const [as, ans] = splitTime(a.atimeMs);
  const [ms, mns] = splitTime(a.mtimeMs);
  const [cs, cns] = splitTime(a.ctimeMs);
  write64(b, as, off + 24);
  write64(b, ms, off + 32);
  write64(b, cs, off + 40);
  b.writeUInt32LE(ans, off + 48);
  b.writeUInt32LE(mns, off + 52);
  b.writeUInt32LE(cns, off + 56);
  b.writeUInt32LE(a.mode >>> 0, off + 60);
  b.writeUInt32LE(a.nlink >>> 0, off + 64);
  b.writeUInt32LE(a.uid >>> 0, off + 68);
  b.writeUInt32LE(a.gid >>> 0, off + 72);
  b.writeUInt32LE(a.rdev >>> 0, off + 76);
  b.writeUInt32LE(4096, off + 80); // blksize
  b.writeUInt32LE(0, off + 84); // flags
}

/** seconds → [whole seconds, nanoseconds] for the *_valid fields */
function validity(seconds: number): [number, number] {
  const s = Math.floor(seconds);
  return [s, Math.round((seconds - s) * 1e9)];
}

/** fuse_entry_out; nodeid 0 = a negative entry (cached "no such name" for `entryValid`). */
export function writeEntry(b: Buffer, off: number, nodeid: number, attr: Attr | null, entryValid: number, attrValid: number): void {
  const [es, ens] = validity(entryValid);
  const [as, ans] = validity(attrValid);
  write64(b, nodeid, off);
  write64(b, 0, off + 8); // generation: inode numbers are never reused
  write64(b, es, off + 16);
  write64(b, as, off + 24);
  b.writeUInt32LE(ens, off + 32);
  b.writeUInt32LE(ans, off + 36);
  if (attr) writeAttr(b, off + 40, attr);
  else b.fill(0, off + 40, off + ENTRY_OUT);
}

export function entryOut(nodeid: number, attr: Attr | null, entryValid: number, attrValid: number): Buffer {
  const b = Buffer.allocUnsafe(ENTRY_OUT);
  writeEntry(b, 0, nodeid, attr, entryValid, attrValid);
  return b;
}

export function attrOut(attr: Attr, attrValid: number): Buffer {
  const b = Buffer.allocUnsafe(ATTR_OUT);
  const [s, ns] = validity(attrValid);
  write64(b, s, 0);
  b.writeUInt32LE(ns, 8);
  b.writeUInt32LE(0, 12);
  writeAttr(b, 16, attr);
  return b;
}

export function openOut(fh: number, flags: number): Buffer {
  const b = Buffer.alloc(16);
  write64(b, fh, 0);
  b.writeUInt32LE(flags, 8);
  return b;
}

/** struct fuse_kstatfs inside fuse_statfs_out */
export function statfsOut(s: { blocks: number; bfree: number; bavail: number; files: number; ffree: number; bsize: number; namelen: number }): Buffer {
  const b = Buffer.alloc(80);
  b.writeBigUInt64LE(BigInt(s.blocks), 0);
  b.writeBigUInt64LE(BigInt(s.bfree), 8);
  b.writeBigUInt64LE(BigInt(s.bavail), 16);
  b.writeBigUInt64LE(BigInt(s.files), 24);
  b.writeBigUInt64LE(BigInt(s.ffree), 32);
  b.writeUInt32LE(s.bsize, 40);
  b.writeUInt32LE(s.namelen, 44);
  b.writeUInt32LE(s.bsize, 48); // frsize
  return b;
}

export function u32Out(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  return b;
}

/** d_type values for dirents */
export const DT: Record<string, number> = { fifo: 1, char: 2, dir: 4, block: 6, file: 8, symlink: 10, socket: 12 };

/** Size of one fuse_dirent (plus: fuse_direntplus) for a name of `nameLen` bytes, 8-aligned. */
export const direntSize = (nameLen: number, plus: boolean): number => (((plus ? ENTRY_OUT : 0) + 24 + nameLen + 7) & ~7);

/** Writes a dirent at `off`; returns the offset after it. `next` is the offset that resumes after it. */
export function writeDirent(b: Buffer, off: number, e: { ino: number; next: number; type: number; name: Buffer }, plus?: { nodeid: number; attr: Attr | null; entryValid: number; attrValid: number }): number {
  let p = off;
  if (plus) {
    writeEntry(b, p, plus.nodeid, plus.attr, plus.entryValid, plus.attrValid);
    p += ENTRY_OUT;
  }
  write64(b, e.ino, p);
  write64(b, e.next, p + 8);
  b.writeUInt32LE(e.name.length, p + 16);
  b.writeUInt32LE(e.type, p + 20);
  e.name.copy(b, p + 24);
  const end = off + direntSize(e.name.length, plus !== undefined);
  b.fill(0, p + 24 + e.name.length, end);
  return end;
}

/** A NUL-terminated string at `off`, and the offset after its NUL. */
export function cstring(b: Buffer, off: number): [string, number] {
  const end = b.indexOf(0, off);
  const stop = end < 0 ? b.length : end;
  return [b.toString('utf8', off, stop), stop + 1];
}

/** Notifications we send the kernel unasked (fuse_notify_code): they go out with unique 0. */
export const Notify = {
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
} as const;

/**
 * fuse_notify_store_out + data: put `data` into the page cache of node `nodeid` at `offset`. The
 * kernel marks a page up to date when the data covers it whole, or up to the end of the file; it
 * grows its idea of the file's size when the data ends past it (so store only what is there).
 */
export function storeOut(nodeid: number, offset: number, data: Buffer): Buffer[] {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(BigInt(nodeid), 0);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(data.length, 16);
  b.writeUInt32LE(0, 20); // padding
  return [b, data];
}

/**
 * fuse_notify_inval_inode_out: drop an inode's cached attributes and, with `offset` >= 0, its
 * cached pages from there on (`length` 0: to the end); a negative offset keeps the pages.
 */
export function invalInodeOut(nodeid: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(BigInt(nodeid), 0);
  b.writeBigInt64LE(BigInt(offset), 8);
  b.writeBigInt64LE(BigInt(length), 16);
  return b;
}

/** fuse_notify_inval_entry_out + name: drop the cached entry `name` of directory `parent` (also a cached "no such name"). */
export function invalEntryOut(parent: number, name: string): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(16 + n.length + 1);
  b.writeBigUInt64LE(BigInt(parent), 0);
  b.writeUInt32LE(n.length, 8);
  b.writeUInt32LE(0, 12); // flags
  n.copy(b, 16);
  return b;
}
