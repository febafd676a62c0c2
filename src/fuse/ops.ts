import type { AgentFs } from '../fs/agentfs.js';
import type { Caller, SetAttr } from '../fs/tx.js';
import { FsError } from '../fs/errors.js';
import { parsePath } from '../fs/path.js';
import type { FileType, Stat } from '../fs/types.js';
import { typeFromMode } from '../fs/types.js';
import { toErrno } from './errno.js';
import { HandleTable } from './handles.js';

type Cb = (code: number, ...values: unknown[]) => void;

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;

function statObject(st: Stat): Record<string, unknown> {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: st.nlink,
    ino: st.ino,
    rdev: st.rdev,
    blksize: 4096,
    blocks: st.blocks,
    atime: st.atimeMs,
    mtime: st.mtimeMs,
    ctime: st.ctimeMs,
  };
}

/** utimens sentinels: the high word 0xFFFFFFFF = UTIME_OMIT, 0xFFFFFFFE = UTIME_NOW */
const UTIME_OMIT_MS = 0xffffffff * 2 ** 32;
const UTIME_NOW_MS = 0xfffffffe * 2 ** 32;

/**
 * fuse-native operations for one agent filesystem. A translation only: every call becomes an
 * AgentFs call; errors map through errno.ts; paths with @version are read at that version and
 * every write through them fails with EROFS (from fs/).
 */
export function fuseOps(fs: AgentFs, callerOf: () => Caller | undefined = () => undefined): { ops: Record<string, (...args: never[]) => void>; handles: HandleTable } {
  const handles = new HandleTable(fs);
  /**
   * The filesystem as the calling process: new files, directories, nodes and links belong to its
   * uid/gid. Must be called synchronously at the start of an op (the binding sets the caller just
   * before it calls the op, and the next op may replace it after the first await).
   */
  const asCaller = (): AgentFs => {
    const caller = callerOf();
    return caller ? fs.withActor(fs.actor, caller) : fs;
  };
  /** Runs an async op and answers the kernel: value → cb(0, value), FsError → cb(-errno). */
  const run = <T>(cb: Cb, p: () => Promise<T>, answer: (v: T) => unknown[] = () => []): void => {
    p().then(
      (v) => cb(0, ...answer(v)),
      (e: unknown) => {
        if (!(e instanceof FsError)) console.error('timefs fuse: unexpected error', e);
        cb(toErrno(e));
      },
    );
  };

  /**
   * Attribute changes apply after the writes made before them: `tar` writes a file, then sets its
   * mtime with futimens, then closes it — committing the writes at close must not stamp "now" over
   * the archived mtime.
   */
  const setattr = async (path: string, attr: SetAttr): Promise<void> => {
    const parsed = parsePath(path);
    // on a file open for writing here: buffered with its writes, one commit at close
    if (!parsed.selector && (await handles.bufferAttr({ path: parsed.path }, attr))) return;
    await handles.flushPath(parsed.path);
    await fs.setattr(path, attr, { follow: false });
  };

  const ops = {
    init: (cb: Cb) => cb(0),
    statfs: (_path: string, cb: Cb) =>
      cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 30, bfree: 1 << 29, bavail: 1 << 29, files: 1 << 24, ffree: 1 << 23, favail: 1 << 23, fsid: 0x74667331, flag: 0, namemax: 255 }),
    // buffered changes of open files show through the overlay: a stat must not force a commit
    getattr: (path: string, cb: Cb) => run(cb, async () => handles.overlay(await fs.lstat(path)), (st) => [statObject(st)]),
    access: (_path: string, _mode: number, cb: Cb) => cb(0), // permission checks: default_permissions
    // with each entry's attributes, so that the kernel hands out its type: without them d_type is
    // DT_UNKNOWN and readers stat every name (Node's fs.Dir does, and fails on a name removed
    // since the listing was taken, which POSIX lets readdir return)
    readdir: (path: string, cb: Cb) =>
      run(cb, () => fs.readdirPlus(path), (r) => [
        ['.', '..', ...r.entries.map((e) => e.name)],
        [r.self, r.self, ...r.entries.map((e) => e.stat)].map(statObject),
      ]),
    opendir: (_path: string, _flags: number, cb: Cb) => cb(0, 0),
    releasedir: (_path: string, _fd: number, cb: Cb) => cb(0),
    open: (path: string, flags: number, cb: Cb) =>
      run(cb, async () => {
        const parsed = parsePath(path);
        const writing = (flags & O_ACCMODE) === O_WRONLY || (flags & O_ACCMODE) === O_RDWR || (flags & O_TRUNC) !== 0;
        if (parsed.selector && writing) throw new FsError('EROFS', `read-only: ${path} is a past version`, path);
        const st = await fs.stat(path);
        if (st.type === 'dir') throw new FsError('EISDIR', 'is a directory', path);
        return handles.open(st.ino, parsed.path, { writable: writing, ...(parsed.selector ? { version: st.version } : {}) });
      }, (h) => [h.fd]),
    create: (path: string, mode: number, cb: Cb) => {
      const as = asCaller();
      run(cb, async () => {
        const { value: ino } = await as.transaction(`create ${path}`, (tx) => tx.openFile(path, { create: true, mode: mode & 0o7777 }));
        return handles.open(ino, parsePath(path).path, { writable: true });
      }, (h) => [h.fd]);
    },
    write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
      const h = handles.get(fd);
      if (!h) return cb(-9);
      if (h.version) return cb(-30);
      handles.write(h, pos, Buffer.from(buf.subarray(0, len))).then(() => cb(len), (e: unknown) => cb(toErrno(e)));
      return undefined;
    },
    flush: (_path: string, fd: number, cb: Cb) => {
      const h = handles.get(fd);
      run(cb, async () => (h ? handles.fsync(h) : undefined));
    },
    fsync: (_path: string, _datasync: number, fd: number, cb: Cb) => {
      const h = handles.get(fd);
      run(cb, async () => {
        if (h) await handles.fsync(h);
        await fs.sync();
      });
    },
    fsyncdir: (_path: string, _datasync: number, _fd: number, cb: Cb) => run(cb, () => fs.sync()),
    release: (_path: string, fd: number, cb: Cb) => {
      const h = handles.get(fd);
      run(cb, async () => (h ? handles.release(h) : undefined));
    },
    truncate: (path: string, size: number, cb: Cb) =>
      run(cb, async () => {
        await handles.flushPath(parsePath(path).path);
        await fs.truncate(path, size);
      }),
    ftruncate: (_path: string, fd: number, size: number, cb: Cb) => {
      const h = handles.get(fd);
      if (!h) return cb(-9);
      if (h.version) return cb(-30);
      run(cb, async () => {
        await handles.flush(h);
        await fs.transaction(`truncate ${h.path} to ${size}`, (tx) => tx.truncateIno(h.ino, size));
      });
      return undefined;
    },
    readlink: (path: string, cb: Cb) => run(cb, () => fs.readlink(path), (t) => [t]),
    chmod: (path: string, mode: number, cb: Cb) => run(cb, () => setattr(path, { mode: mode & 0o7777 })),
    // (uid_t)-1 / (gid_t)-1 arrive as 4294967295 and mean "leave unchanged"
    chown: (path: string, uid: number, gid: number, cb: Cb) =>
      run(cb, () => setattr(path, { uid: uid === 0xffffffff ? -1 : uid, gid: gid === 0xffffffff ? -1 : gid })),
    // UTIME_OMIT / UTIME_NOW arrive as sentinels (scripts/patch-fuse-native.cjs)
    utimens: (path: string, atime: number, mtime: number, cb: Cb) => {
      const now = Date.now();
      const time = (t: number): number | undefined => (t >= UTIME_OMIT_MS ? undefined : t >= UTIME_NOW_MS ? now : t);
      const attr: SetAttr = {};
      const [a, m] = [time(atime), time(mtime)];
      if (a !== undefined) attr.atime = a;
      if (m !== undefined) attr.mtime = m;
      run(cb, () => setattr(path, attr));
    },
    mknod: (path: string, mode: number, dev: number, cb: Cb) => {
      const as = asCaller();
      run(cb, () => as.transaction(`mknod ${path}`, (tx) => tx.createNode(path, { type: typeFromMode(mode) as FileType, mode: mode & 0o7777, rdev: dev })));
    },
    mkdir: (path: string, mode: number, cb: Cb) => {
      const as = asCaller();
      run(cb, () => as.transaction(`mkdir ${path}`, (tx) => tx.mkdir(path, mode & 0o7777)));
    },
    unlink: (path: string, cb: Cb) => run(cb, () => fs.transaction(`unlink ${path}`, (tx) => tx.unlink(path))),
    rmdir: (path: string, cb: Cb) => run(cb, () => fs.transaction(`rmdir ${path}`, (tx) => tx.rmdir(path))),
    rename: (src: string, dst: string, cb: Cb) =>
      run(cb, async () => {
        await fs.rename(src, dst);
        handles.renamed(parsePath(src).path, parsePath(dst).path);
      }),
    link: (src: string, dst: string, cb: Cb) => run(cb, () => fs.link(src, dst)),
    symlink: (target: string, path: string, cb: Cb) => {
      const as = asCaller();
      run(cb, () => as.symlink(target, path));
    },
    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Cb) =>
      run(cb, () => fs.setxattr(path, name, Buffer.from(value), { create: (flags & 1) !== 0, replace: (flags & 2) !== 0 })),
    getxattr: (path: string, name: string, _position: number, cb: Cb) => run(cb, () => fs.getxattr(path, name), (v) => [v]),
    listxattr: (path: string, cb: Cb) => run(cb, () => fs.listxattr(path), (names) => [names]),
    removexattr: (path: string, name: string, cb: Cb) => run(cb, () => fs.removexattr(path, name)),
  };
  // read answers with the byte count in the code position (fuse-native's convention)
  const read = (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
    const h = handles.get(fd);
    if (!h) return cb(-9);
    handles
      .flushIno(h.ino)
      .then(() => fs.readIno(h.ino, pos, len, h.version))
      .then((data) => {
        data.copy(buf);
        cb(data.length);
      }, (e: unknown) => cb(toErrno(e)));
    return undefined;
  };
  return { ops: { ...ops, read } as unknown as Record<string, (...args: never[]) => void>, handles };
}
