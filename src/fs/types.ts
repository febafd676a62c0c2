import type { Version } from '../store/version.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** st_mode type bits. */
export const S_IFMT = 0o170000;
export const TYPE_BITS: Record<FileType, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  char: 0o020000,
  block: 0o060000,
  socket: 0o140000,
};

export function typeFromMode(mode: number): FileType {
  const bits = mode & S_IFMT;
  for (const [t, b] of Object.entries(TYPE_BITS)) if (b === bits) return t as FileType;
  return 'file';
}

/**
 * An inode as stored. Invariants: `mode` holds only permission bits (07777), the type lives in
 * `type`; a directory's nlink = 2 + its subdirectories; `parent` is set for directories only
 * (directories have exactly one parent, so `..` and the "no moving a dir into itself" check follow
 * it); stored block bytes never extend past `size`.
 */
export interface Inode {
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** times in ms since epoch (fractional part keeps µs) */
  atime: number;
  mtime: number;
  ctime: number;
  nlink: number;
  rdev?: number;
  /** symlink target */
  target?: string;
  /** directories: the parent's inode number (root: itself) */
  parent?: number;
  /** true when the inode may have xattrs: listing them (every PROPFIND entry) skips a scan otherwise */
  xattr?: boolean;
  /** generation: +1 for every commit that changes the inode (ETags; ctime has only ms resolution) */
  gen?: number;
}

export interface Stat {
  ino: number;
  type: FileType;
  /** full st_mode: type bits | permission bits */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  nlink: number;
  rdev: number;
  /** 512-byte blocks, as du counts them */
  blocks: number;
  /** the version this was read at */
  version: Version;
  /** the inode's generation (changes with every commit that changes it) */
  gen: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: FileType;
}

export const ROOT_INO = 1;
/**
 * Content block = chunk size. 1 MiB: the per-chunk work (hash, a file written and renamed, an
 * fsync at commit) dominates large uploads — a 100 MiB PUT ran at ~18 MiB/s with 64 KiB chunks,
 * ~100 MiB/s with 256 KiB and ~140–340 MiB/s with 1 MiB (same machine and client). A 1-byte edit
 * still adds exactly one chunk to history (now up to 1 MiB of it).
 */
export const BLOCK_SIZE = 1024 * 1024;
/**
 * The on-store filesystem format, recorded with the root directory. 1 = 256 KiB blocks (timefs
 * before 2026-11-25), 2 = 1 MiB blocks. A filesystem in another format is refused, never misread.
 */
export const FS_FORMAT = 2;
/**
 * Blocks of at most this many bytes live inline in the kv; larger ones are chunks in the blob store.
 * A chunk costs a file and an fsync before the commit that references it; an inline block rides in
 * the commit's own write, so small files (most of a source tree) never pay that fsync.
 */
export const INLINE_MAX = 64 * 1024;
