import type { LogicalKey } from '../store/keys.js';
import type { FileType, Inode } from './types.js';

/** Logical keys of the filesystem inside its namespace. */
export const inodeKey = (ino: number): LogicalKey => ['i', ino];
export const direntKey = (parent: number, name: string): LogicalKey => ['e', parent, name];
export const direntPrefix = (parent: number): LogicalKey => ['e', parent];
export const blockKey = (ino: number, index: number): LogicalKey => ['b', ino, index];
export const blockPrefix = (ino: number): LogicalKey => ['b', ino];
export const xattrKey = (ino: number, name: string): LogicalKey => ['x', ino, name];
export const xattrPrefix = (ino: number): LogicalKey => ['x', ino];
export const nextInoKey: LogicalKey = ['m', 'next-ino'];
/** the filesystem format (types.ts FS_FORMAT), written with the root directory */
export const formatKey: LogicalKey = ['m', 'format'];

const TYPE_CODE: Record<FileType, string> = { file: 'f', dir: 'd', symlink: 'l', fifo: 'p', char: 'c', block: 'b', socket: 's' };
const CODE_TYPE = Object.fromEntries(Object.entries(TYPE_CODE).map(([k, v]) => [v, k])) as Record<string, FileType>;

export const encodeInode = (inode: Inode): Buffer => Buffer.from(JSON.stringify(inode));
/**
 * Inodes already parsed, by the stored value they came from. The read cache hands out the same
 * Buffer for every read of a cached value, and stored values are never written in place, so a
 * Buffer always decodes to the same inode: every getattr, lookup and commit read an inode, and
 * JSON.parse was the largest single cost of a FUSE untar after SQLite's (~1 s of ~45 s of CPU
 * over the bench's workloads).
 */
const parsed = new WeakMap<Buffer, Inode>();

/** The inode a stored value holds: a fresh object each call (callers change the inodes they get). */
export function decodeInode(raw: Buffer): Inode {
  let inode = parsed.get(raw);
  if (!inode) {
    inode = JSON.parse(raw.toString('utf8')) as Inode;
    parsed.set(raw, inode);
  }
  return { ...inode };
}

/** Dirent value: type code + inode number, e.g. "f42". */
export const encodeDirent = (ino: number, type: FileType): Buffer => Buffer.from(`${TYPE_CODE[type]}${ino}`);
export function decodeDirent(raw: Buffer): { ino: number; type: FileType } {
  const s = raw.toString('latin1');
  return { type: CODE_TYPE[s[0]!] ?? 'file', ino: Number(s.slice(1)) };
}
