import type { AgentFs } from '../../fs/agentfs.js';
import { FsError, fromStoreError, fsError } from '../../fs/errors.js';
import { MAX_NAME_BYTES, checkName, joinPath, parsePath, splitSelector } from '../../fs/path.js';
import { MAX_LINKS, newInode, type FsTx, type SetAttr, type Slot } from '../../fs/tx.js';
import { BLOCK_SIZE, typeFromMode, type DirEntry, type FileType, type Inode, type Stat } from '../../fs/types.js';
import type { Version } from '../../store/version.js';
import type { FsView } from '../../fs/view.js';
import { toErrno } from '../errno.js';
import type { Handle, HandleTable } from '../handles.js';
import {
  DT,
  FOPEN_CACHE_DIR,
  FOPEN_KEEP_CACHE,
  FOPEN_NOFLUSH,
  FUSE_KERNEL_MINOR,
  FUSE_KERNEL_VERSION,
  Falloc,
  Fattr,
  IN_HEADER,
  Init,
  Op,
  OPEN_KILL_SUIDGID,
  WRITE_KILL_SUIDGID,
  attrOut,
  cstring,
  direntSize,
  entryOut,
  openOut,
  readInHeader,
  statfsOut,
  u32Out,
  writeDirent,
  type InHeader,
  Notify,
  nameIn,
  nodeidOf,
  storeOut,
} from './abi.js';
import { MAX_WRITE, type FuseChannel } from './channel.js';
import { Listings } from './listings.js';
import { NodeTable, type Node } from './nodes.js';
import { READAHEAD_KB, setReadahead } from './readahead.js';
import type { RequestStats } from './stats.js';

/**
 * Largest request in pages (INIT max_pages; the kernel's default is 32, its limit 256): a READ
 * may ask for a whole stored block, answered from one chunk without copying, instead of eight
 * 128 KiB READs. WRITEs stay within MAX_WRITE (see channel.ts).
 */
const MAX_PAGES = BLOCK_SIZE / 4096;
/** Past versions never change: the kernel may cache what it learns about them this long (s). */
const PAST_CACHE_S = 3600;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const RENAME_NOREPLACE = 1;
const EPROTO = 71;
const ENOSYS = 38;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;

type Payload = Buffer[];

/** Requests the kernel expects no answer to: they never wait (see handle()). */
const NO_REPLY_OPS = new Set<number>([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
/** Largest file whose pages are put into the kernel's page cache after it was written (see storePages). */
const STORE_MAX = 256 * 1024;
/** Requests on a file with no handle that can change its pages or size, or give it a handle (see storePages). */
const REACHES_PAGES = new Set<number>([Op.OPEN, Op.SETATTR]);
/** Requests that need no barrier for loose attribute changes (see handle()). */
const SEES_LOOSE = new Set<number>([Op.GETATTR, Op.LOOKUP, Op.SETATTR, Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
/**
 * Requests that can touch or see no inode but their own node (nodeid): they wait for loose
 * changes only when that node has some (see looseBarrier()). What tar sends between restoring one
 * directory's attributes and the next — lookups, mkdirs, creates, writes, closes — is all here.
 * Not here: whatever names other inodes or reports their attributes (readdir, rename, link,
 * unlink, rmdir), and fsync (it makes every change before it durable).
 */
const OWN_NODE_ONLY = new Set<number>([Op.CREATE, Op.MKDIR, Op.MKNOD, Op.SYMLINK, Op.OPEN, Op.READ, Op.WRITE, Op.FLUSH, Op.RELEASE, Op.GETXATTR, Op.LISTXATTR, Op.SETXATTR, Op.REMOVEXATTR, Op.READLINK, Op.STATFS, Op.ACCESS, Op.LSEEK]);
/**
 * Requests that need no barrier for creates not committed yet (see createBarrier()): they cannot
 * see one, or see it through the overlay (getattr of the file or of its directory).
 */
const SEES_CREATES = new Set<number>([Op.GETATTR, Op.GETXATTR, Op.LISTXATTR, Op.WRITE, Op.FLUSH, Op.FSYNC, Op.RELEASE, Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT, Op.STATFS, Op.ACCESS]);
/** The opcodes we serve; any other is answered ENOSYS (e.g. STATX, after which the kernel sends GETATTR). */
const SERVED = new Set<number>(Object.values(Op));

/**
 * The mode after a write, truncate or chown that must drop privileges — the rule the kernel applies
 * itself without HANDLE_KILLPRIV_V2: set-user-ID always goes; set-group-ID only with group execute
 * (without it the bit marks mandatory locking, not a privilege).
 */
const killSuidGid = (mode: number): number => mode & ~(0o4000 | (mode & 0o010 ? 0o2000 : 0));

/** A directory entry as READDIRPLUS hands it out: with its attributes when they were read. */
type Listed = DirEntry & { stat?: Stat };

/** How long the kernel may cache head entries and attributes, and a head "no such name" (seconds). */
export interface CacheSeconds {
  entries: number;
  negative: number;
}

/**
 * The FUSE low-level protocol served on AgentFs: the kernel names inodes (node ids) and we answer
 * by inode number, so there is no path walking, and the kernel may cache attributes and entries
 * (one kernel inode per timefs inode). Head nodes are cached for `cacheSeconds.entries`, a head
 * "no such name" for `cacheSeconds.negative` (changes from other surfaces are dropped from the
 * caches as they happen: invalidate.ts); past nodes for an hour, they never change.
 *
 * Invariant: every request gets exactly one reply, except FORGET, BATCH_FORGET and INTERRUPT,
 * which get none (the protocol says so).
 */
export class FuseSession {
  readonly nodes = new NodeTable();
  /** the listings being read (there are no directory handles: see listings.ts) */
  private readonly listings = new Listings<Listed>();
  /** page stores in flight (see storePages), by node id: every request on that node waits for them */
  private readonly storing = new Map<number, Promise<void>>();
  /** OPENs and SETATTRs (REACHES_PAGES) dispatched and not answered yet, by node id: storePages must not race one */
  private readonly reaching = new Map<number, number>();
  /** set at INIT when the kernel opens directories without asking (FUSE_NO_OPENDIR_SUPPORT) */
  private noOpendir = false;

  constructor(
    private readonly fs: AgentFs,
    private readonly handles: HandleTable,
    private readonly channel: FuseChannel,
    private readonly cacheSeconds: CacheSeconds,
    private readonly stats?: RequestStats,
  ) {}

  /**
   * Starts one request (synchronously: `req` is reused once this returns). While loose attribute
   * changes are buffered (HandleTable.bufferLoose), every request but those that see them anyway
   * (getattr and lookup answer through the overlay; setattr buffers or commits them itself) waits
   * until they are committed, in arrival order.
   */
  handle(req: Buffer): void {
    const opcode = req.readUInt32LE(4);
    this.stats?.count(opcode);
    const loose = this.looseBarrier(opcode, req);
    const creates = this.createBarrier(opcode, req);
    let barrier: Promise<unknown> | null = loose && creates ? Promise.all([loose, creates]) : (loose ?? creates);
    if (this.storing.size > 0 || REACHES_PAGES.has(opcode)) {
      const nodeid = nodeidOf(req);
      const stored = this.storing.get(nodeid);
      if (stored && !NO_REPLY_OPS.has(opcode)) barrier = barrier ? Promise.all([barrier, stored]) : stored;
      if (REACHES_PAGES.has(opcode)) this.reaching.set(nodeid, (this.reaching.get(nodeid) ?? 0) + 1);
    }
    if (!barrier) return this.dispatch(req);
    const copy = Buffer.from(req.subarray(0, req.readUInt32LE(0)));
    void barrier.then(() => this.dispatch(copy));
  }

  /**
   * While loose attribute changes are buffered or being committed (HandleTable.bufferLoose), a
   * request that could see one of those inodes other than through the overlay commits them first.
   * getattr, lookup and setattr see them anyway; a create, write or close (OWN_NODE_ONLY) waits
   * only when its own node has loose changes: a create in a directory whose times are buffered
   * must be committed after them, or the older utimes would win over the create's newer times.
   * Everything else waits.
   */
  private looseBarrier(opcode: number, req: Buffer): Promise<void> | null {
    if (SEES_LOOSE.has(opcode)) return null;
    if (OWN_NODE_ONLY.has(opcode)) {
      const node = this.nodes.get(nodeidOf(req));
      if (node && !node.version && !this.handles.isLoose(node.ino)) return null;
    }
    return this.handles.looseBarrier();
  }

  /**
   * While a file created here is not committed yet (HandleTable.createOpen), a request that could
   * see it — or its directory, whose entries and times the create commit changes — other than
   * through the overlay commits it first, so every answer and every commit stays in request
   * order. What tar, cp and git send between creating and closing a file (write, setattr,
   * getxattr, getattr of the file and of its directory, which the kernel asks for to check
   * permissions after a create, flush, release) needs no commit; neither does a lookup of
   * another name, a setattr of another node, another create or mkdir (they join the same
   * commit), nor tar's restoring of a pending directory's attributes (bufferPendingDir).
   */
  private createBarrier(opcode: number, req: Buffer): Promise<void> | null {
    if (!this.handles.createsPending || SEES_CREATES.has(opcode) || !SERVED.has(opcode)) return null;
    const node = this.nodes.get(nodeidOf(req));
    if (opcode === Op.SETATTR || opcode === Op.LOOKUP) {
      if (!node || node.version) return null;
      // a setattr of a pending file is buffered with its writes (HandleTable.bufferAttr); a
      // lookup in a pending directory finds nothing but what is pending in it
      const name = opcode === Op.LOOKUP ? nameIn(req, 0) : undefined;
      if (opcode === Op.SETATTR && this.handles.isPendingDir(node.ino)) {
        // buffered with the directory (HandleTable.bufferPendingDir), unless it is a truncate
        if ((req.readUInt32LE(IN_HEADER) & Fattr.SIZE) === 0) return null;
      } else if (!this.handles.createdIn(node.ino, name)) return null;
    }
    // a create or mkdir at head waits to be committed with them (or commits them first itself: create())
    if (opcode === Op.CREATE || opcode === Op.MKDIR) {
      if (this.mayDefer(nodeidOf(req), nameIn(req, opcode === Op.CREATE ? 16 : 8))) return null;
    }
    // reading a file, or listing a directory, that nothing pending is or names (git add reads
    // every file it stores between writing objects): what it sees does not depend on them
    if ((opcode === Op.OPEN || opcode === Op.READ) && node && (node.version || !this.handles.createdInode(node.ino))) return null;
    if ((opcode === Op.READDIR || opcode === Op.READDIRPLUS) && node && (node.version || (!this.handles.createdInode(node.ino) && !this.handles.createdIn(node.ino)))) return null;
    // git's link of a new object to its name and unlink of its temporary name: committed after them
    if (opcode === Op.LINK && this.afterLinkable(nodeidOf(req), this.nodes.get(Number(req.readBigUInt64LE(IN_HEADER))))) return null;
    if (opcode === Op.UNLINK && this.afterRemovable(nodeidOf(req), nameIn(req, 0))) return null;
    return this.handles.commitCreates();
  }

  /** Decodes one request (synchronously: `req` is reused once this returns) and starts it. */
  private dispatch(req: Buffer): void {
    const h = readInHeader(req);
    const body = req.subarray(IN_HEADER, h.len);
    switch (h.opcode) {
      case Op.INIT:
        return this.init(h, body);
      case Op.DESTROY:
        this.channel.reply(h.unique, 0);
        return this.channel.stop();
      case Op.FORGET:
        return this.nodes.forget(h.nodeid, Number(body.readBigUInt64LE(0)));
      case Op.BATCH_FORGET: {
        const count = body.readUInt32LE(0);
        for (let i = 0; i < count; i++) this.nodes.forget(Number(body.readBigUInt64LE(8 + i * 16)), Number(body.readBigUInt64LE(16 + i * 16)));
        return;
      }
      case Op.INTERRUPT:
        return; // every request finishes quickly; the kernel gets the normal reply
      case Op.LOOKUP:
        return this.run(h, () => this.lookup(h.nodeid, cstring(body, 0)[0]));
      case Op.GETATTR:
        return this.run(h, async () => {
          const { node, stat } = await this.statNode(h.nodeid);
          return [attrOut(stat, this.ttl(node.version))];
        });
      case Op.SETATTR:
        return this.run(h, () => this.setattr(h.nodeid, body).finally(() => this.reached(h.nodeid)));
      case Op.READLINK:
        return this.run(h, async () => {
          const { node, view } = await this.nodeView(h.nodeid);
          const inode = await view.mustInode(node.ino);
          if (inode.type !== 'symlink') throw fsError('EINVAL', 'not a symbolic link');
          return [Buffer.from(inode.target ?? '')];
        });
      case Op.MKNOD: {
        const mode = body.readUInt32LE(0);
        const rdev = body.readUInt32LE(4);
        const name = cstring(body, 16)[0];
        return this.run(h, async () => [(await this.create(h, h.nodeid, name, 'mknod', (tx, at) => tx.createIn(at, { type: typeFromMode(mode) as FileType, mode: mode & 0o7777, rdev }))).entry]);
      }
      case Op.MKDIR: {
        const mode = body.readUInt32LE(0);
        const name = cstring(body, 8)[0];
        return this.run(h, async () => {
          const reserved = this.mayDefer(h.nodeid, name) ? this.handles.takeIno() : undefined;
          if (reserved !== undefined) return this.createLater(h, name, 'dir', mode & 0o7777, reserved);
          return [(await this.create(h, h.nodeid, name, 'mkdir', (tx, at) => tx.createIn(at, { type: 'dir', mode: mode & 0o7777 }))).entry];
        });
      }
      case Op.SYMLINK: {
        const [name, next] = cstring(body, 0);
        const target = cstring(body, next)[0];
        return this.run(h, async () => [(await this.create(h, h.nodeid, name, 'symlink', (tx, at) => tx.symlinkIn(at, target))).entry]);
      }
      case Op.LINK: {
        const target = this.nodes.get(Number(body.readBigUInt64LE(0)));
        const name = cstring(body, 8)[0];
        return this.run(h, async () => (await this.linkLater(h.nodeid, target, name)) ?? [
          (
            await this.create(h, h.nodeid, name, 'link', async (tx, at) => {
              if (!target || target.version) throw fsError('EROFS', 'read-only: a past version cannot be linked');
              return { ino: target.ino, inode: await tx.linkIn(target.ino, at) };
            })
          ).entry,
        ]);
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const name = cstring(body, 0)[0];
        const rmdir = h.opcode === Op.RMDIR;
        return this.run(h, async () => {
          if (!(await this.removeLater(h.nodeid, name, rmdir))) {
            // the creates this mount answered before are committed before it, as they were made
            if (this.handles.createsPending) await this.handles.commitCreates();
            await this.change(h.nodeid, name, rmdir ? 'rmdir' : 'unlink', (tx, at) => (rmdir ? tx.rmdirIn(at) : tx.unlinkIn(at)));
          }
          return [];
        });
      }
      case Op.RENAME:
      case Op.RENAME2: {
        const newDir = Number(body.readBigUInt64LE(0));
        const flags = h.opcode === Op.RENAME2 ? body.readUInt32LE(8) : 0;
        const [from, next] = cstring(body, h.opcode === Op.RENAME2 ? 16 : 8);
        const to = cstring(body, next)[0];
        return this.run(h, () => this.rename(h.nodeid, from, newDir, to, flags));
      }
      case Op.OPEN:
        return this.run(h, () => this.open(h.nodeid, body.readUInt32LE(0), body.readUInt32LE(4)).finally(() => this.reached(h.nodeid)));
      case Op.CREATE: {
        const flags = body.readUInt32LE(0);
        const mode = body.readUInt32LE(4);
        const name = cstring(body, 16)[0];
        return this.run(h, async () => {
          const writable = (flags & O_ACCMODE) !== 0;
          const reserved = writable && this.mayDefer(h.nodeid, name) ? this.handles.takeIno() : undefined;
          if (reserved !== undefined) return this.createLater(h, name, 'file', mode & 0o7777, reserved);
          const { ino, entry } = await this.create(h, h.nodeid, name, 'create', (tx, at) => tx.createIn(at, { type: 'file', mode: mode & 0o7777 }));
          const handle = this.handles.open(ino, joinPath(this.nodes.pathOf(h.nodeid), name), { writable });
          return [entry, openOut(handle.fd, 0)];
        });
      }
      case Op.READ: {
        const fh = Number(body.readBigUInt64LE(0));
        const offset = Number(body.readBigUInt64LE(8));
        const size = body.readUInt32LE(16);
        return this.run(h, async () => {
          const handle = this.mustHandle(fh);
          await this.handles.flushIno(handle.ino);
          return this.fs.readInoShared(handle.ino, offset, size, handle.version);
        });
      }
      case Op.WRITE: {
        const fh = Number(body.readBigUInt64LE(0));
        const offset = Number(body.readBigUInt64LE(8));
        const size = body.readUInt32LE(16);
        const kill = (body.readUInt32LE(20) & WRITE_KILL_SUIDGID) !== 0;
        const data = Buffer.from(body.subarray(40, 40 + size)); // copied: the request buffer is reused
        return this.run(h, async () => {
          const handle = this.mustHandle(fh);
          if (handle.version) throw fsError('EROFS', 'read-only: a past version');
          if (kill) {
            // buffered with the write, in order: the writer's handle is writable
            const mode = (await this.statNode(h.nodeid)).stat.mode & 0o7777;
            if (killSuidGid(mode) !== mode) await this.handles.bufferAttr({ ino: handle.ino }, { mode: killSuidGid(mode) });
          }
          await this.handles.write(handle, offset, data);
          return [u32Out(size)];
        });
      }
      case Op.FLUSH:
      case Op.FSYNC:
      case Op.RELEASE: {
        const handle = this.handles.get(Number(body.readBigUInt64LE(0)));
        const release = h.opcode === Op.RELEASE;
        return this.run(h, async () => {
          if (handle && release) await this.handles.release(handle, handle.written && !handle.version ? () => this.storePages(h.nodeid, handle.ino) : undefined);
          else if (handle) await (h.opcode === Op.FSYNC ? this.handles.fsync(handle) : this.handles.flushOnClose(handle));
          if (h.opcode === Op.FSYNC) await this.sync();
          return [];
        });
      }
      case Op.FALLOCATE: {
        const fh = Number(body.readBigUInt64LE(0));
        const offset = Number(body.readBigUInt64LE(8));
        const length = Number(body.readBigUInt64LE(16));
        const mode = body.readUInt32LE(24);
        return this.run(h, async () => {
          this.mustHandle(fh);
          const flags = { keepSize: (mode & Falloc.KEEP_SIZE) !== 0, punchHole: (mode & Falloc.PUNCH_HOLE) !== 0, zeroRange: (mode & Falloc.ZERO_RANGE) !== 0 };
          const what = Object.entries(flags).filter(([, on]) => on).map(([flag]) => flag);
          // changeNode refuses a past file (EROFS) and commits the file's buffered writes first
          await this.changeNode(h.nodeid, `fallocate ${offset}+${length}${what.length ? ` (${what.join(',')})` : ''}`, (tx, node) => tx.fallocate(node.ino, offset, length, flags));
          return [];
        });
      }
      case Op.LSEEK: {
        // the kernel asks only for SEEK_DATA (3) and SEEK_HOLE (4); it answers the others itself
        const fh = Number(body.readBigUInt64LE(0));
        const offset = Number(body.readBigInt64LE(8));
        const whence = body.readUInt32LE(16);
        return this.run(h, async () => {
          const handle = this.mustHandle(fh);
          if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw fsError('EINVAL', `lseek whence ${whence}`);
          await this.handles.flushIno(handle.ino); // buffered writes may fill holes
          const view = await this.fs.view(handle.version);
          const at = await view.seekDataOrHole(handle.ino, await view.mustInode(handle.ino), offset, whence === SEEK_DATA ? 'data' : 'hole');
          const out = Buffer.alloc(8);
          out.writeBigUInt64LE(BigInt(at));
          return [out];
        });
      }
      case Op.COPY_FILE_RANGE: {
        const fhIn = Number(body.readBigUInt64LE(0));
        const offIn = Number(body.readBigUInt64LE(8));
        const nodeOut = Number(body.readBigUInt64LE(16));
        const fhOut = Number(body.readBigUInt64LE(24));
        const offOut = Number(body.readBigUInt64LE(32));
        const len = Number(body.readBigUInt64LE(40));
        return this.run(h, async () => {
          const from = this.mustHandle(fhIn);
          this.mustHandle(fhOut);
          // the source's buffered writes first (a past source has none); changeNode refuses a past
          // destination (EROFS) and commits the destination's
          const view = from.version ? await this.fs.view(from.version) : null;
          if (!view) await this.handles.flushIno(from.ino);
          let copied = 0;
          // the source node's path carries its @version when it is a past one
          await this.changeNode(nodeOut, `copy ${this.nodes.pathOf(h.nodeid)} ${offIn}+${len} -> ${offOut}`, async (tx, node) => {
            copied = await tx.copyRange({ view: view ?? tx, ino: from.ino }, offIn, node.ino, offOut, len);
          });
          return [u32Out(copied)];
        });
      }
      case Op.STATFS:
        return this.channel.reply(h.unique, 0, [statfsOut({ blocks: 2 ** 30, bfree: 2 ** 29, bavail: 2 ** 29, files: 2 ** 24, ffree: 2 ** 23, bsize: 4096, namelen: 255 })]);
      case Op.SETXATTR: {
        const size = body.readUInt32LE(0);
        const flags = body.readUInt32LE(4);
        const [name, next] = cstring(body, 8);
        const value = Buffer.from(body.subarray(next, next + size));
        return this.run(h, async () => {
          await this.changeNode(h.nodeid, `setxattr ${name}`, (tx, node) => tx.setxattr(node.ino, name, value, { create: (flags & 1) !== 0, replace: (flags & 2) !== 0 }));
          return [];
        });
      }
      case Op.REMOVEXATTR: {
        const name = cstring(body, 0)[0];
        return this.run(h, async () => {
          await this.changeNode(h.nodeid, `removexattr ${name}`, (tx, node) => tx.removexattr(node.ino, name));
          return [];
        });
      }
      case Op.GETXATTR: {
        const size = body.readUInt32LE(0);
        const name = cstring(body, 8)[0];
        return this.run(h, async () => {
          const { node, view } = await this.nodeView(h.nodeid);
          const value = await view.getxattr(node.ino, name, await this.inodeOf(node, view));
          if (!value) throw fsError('ENODATA', `no xattr ${name}`);
          return sized(value, size);
        });
      }
      case Op.LISTXATTR: {
        const size = body.readUInt32LE(0);
        return this.run(h, async () => {
          const { node, view } = await this.nodeView(h.nodeid);
          const names = await view.listxattr(node.ino, await this.inodeOf(node, view));
          return sized(Buffer.from(names.map((n) => `${n}\0`).join('')), size);
        });
      }
      case Op.OPENDIR:
        // no directory handles (listings.ts): the kernel opens directories itself from now on
        if (this.noOpendir) return this.channel.reply(h.unique, -ENOSYS);
        // a kernel before 5.1: directories are opened here, with the flags the kernel uses without OPENDIR
        return this.run(h, async () => {
          await this.statNode(h.nodeid);
          return [openOut(0, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR)];
        });
      case Op.READDIR:
      case Op.READDIRPLUS: {
        const offset = Number(body.readBigUInt64LE(8));
        const size = body.readUInt32LE(16);
        return this.run(h, () => this.readdir(h.nodeid, offset, size, h.opcode === Op.READDIRPLUS));
      }
      case Op.RELEASEDIR: // only from a kernel before 5.1; nothing is kept per open directory
        return this.channel.reply(h.unique, 0);
      case Op.FSYNCDIR:
        return this.run(h, async () => {
          await this.sync();
          return [];
        });
      case Op.ACCESS: // permissions are the kernel's (default_permissions): not sent
        return this.channel.reply(h.unique, 0);
      default:
        return this.channel.reply(h.unique, -ENOSYS);
    }
  }

  /** Runs an operation and replies with its payload, or with its error as a negative errno. */
  private run(h: InHeader, op: () => Promise<Payload>): void {
    const stats = this.stats;
    const start = stats ? performance.now() : 0;
    op().then(
      (payload) => {
        stats?.took(h.opcode, performance.now() - start);
        this.channel.reply(h.unique, 0, payload);
      },
      (err: unknown) => {
        stats?.took(h.opcode, performance.now() - start);
        const e = fromStoreError(err);
        if (!(e instanceof FsError)) console.error(`timefs fuse: opcode ${h.opcode} failed unexpectedly`, e);
        this.channel.reply(h.unique, toErrno(e));
      },
    );
  }

  private init(h: InHeader, body: Buffer): void {
    const major = body.readUInt32LE(0);
    if (major !== FUSE_KERNEL_VERSION) return this.channel.reply(h.unique, -EPROTO);
    const kernelFlags = body.readUInt32LE(12);
    // HANDLE_KILLPRIV_V2: we clear set-user/group-ID bits when the kernel says so (WRITE, SETATTR).
    // Without it the kernel asks for security.capability (GETXATTR) before every write to a file;
    // with it, it marks an inode it has checked S_NOSEC and stops asking (untar: 14,800 → 10,000).
    // No AUTO_INVAL_DATA: with it the kernel dropped a file's pages whenever fresh attributes
    // showed another mtime than it had — which every file written through the mount shows at the
    // first stat after the write (the kernel does not keep the mtime itself) — so nothing written
    // here was ever read back from memory. Pages change through this mount (the kernel updates
    // them, or storePages fills them) or elsewhere, and then the invalidator drops them; it reads
    // the commit log, so after an outage it catches up on every change it missed. A size that
    // changed still drops the pages (the kernel always checks that).
    this.noOpendir = (kernelFlags & Init.NO_OPENDIR_SUPPORT) !== 0;
    const want = Init.ASYNC_READ | Init.ATOMIC_O_TRUNC | Init.BIG_WRITES | Init.DO_READDIRPLUS | Init.READDIRPLUS_AUTO | Init.PARALLEL_DIROPS | Init.CACHE_SYMLINKS | Init.HANDLE_KILLPRIV_V2 | Init.MAX_PAGES;
    const out = Buffer.alloc(64);
    out.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
    out.writeUInt32LE(FUSE_KERNEL_MINOR, 4);
    out.writeUInt32LE(body.readUInt32LE(8), 8); // max_readahead: the kernel's
    out.writeUInt32LE(kernelFlags & want, 12);
    out.writeUInt16LE(64, 16); // max_background
    out.writeUInt16LE(48, 18); // congestion_threshold
    out.writeUInt32LE(MAX_WRITE, 20);
    out.writeUInt32LE(1, 24); // time_gran: nanoseconds
    out.writeUInt16LE(MAX_PAGES, 28); // max_pages (MAX_PAGES): READs of up to a whole chunk
    this.channel.reply(h.unique, 0, [out]);
    // only now: the kernel applied max_readahead with the reply, and that could only lower it
    setReadahead(this.channel.dir, READAHEAD_KB).catch((err: unknown) =>
      console.error(`timefs fuse: could not raise the read-ahead of ${this.channel.dir} to ${READAHEAD_KB} KiB (big files read sequentially are slower; the mount works)`, err),
    );
  }

  /** fsync: what this mount has answered is durable once this returns (entry changes not committed yet too). */
  private async sync(): Promise<void> {
    await this.handles.commitCreates();
    await this.handles.commitEntries();
    await this.fs.sync();
  }

  /** How long the kernel may cache what it learns at `version` (head: undefined). */
  private ttl(version: Version | undefined): number {
    return version ? PAST_CACHE_S : this.cacheSeconds.entries;
  }

  /** Attributes as this mount reports them: at head, with the buffered changes of open files. */
  private shown(stat: Stat, version: Version | undefined): Stat {
    return version ? stat : this.handles.overlay(stat);
  }

  /** The open file a request names (EBADF if it is not open). */
  private mustHandle(fh: number): Handle {
    const handle = this.handles.get(fh);
    if (!handle) throw fsError('EBADF', 'bad file handle');
    return handle;
  }

  private mustNode(id: number): Node {
    const node = this.nodes.get(id);
    if (!node) throw fsError('ENOENT', `stale node ${id}`);
    return node;
  }

  private async nodeView(id: number): Promise<{ node: Node; view: FsView }> {
    const node = this.mustNode(id);
    return { node, view: await this.fs.view(node.version) };
  }

  /** A node's inode (or an inode's, at a version): at head, a file or directory made here and not committed yet is one too. */
  private async inodeOf(node: Pick<Node, 'ino' | 'version'>, view: FsView): Promise<Inode> {
    return (!node.version && this.handles.createdInode(node.ino)) || view.mustInode(node.ino);
  }

  /** A node's attributes as this mount reports them (buffered writes of open files included). */
  private async statNode(id: number): Promise<{ node: Node; stat: Stat }> {
    const { node, view } = await this.nodeView(id);
    const stat = view.statOf(node.ino, await this.inodeOf(node, view));
    return { node, stat: this.shown(stat, node.version) };
  }

  private async lookup(parentId: number, name: string): Promise<Payload> {
    const parent = this.mustNode(parentId);
    let view: FsView;
    let ino: number | undefined;
    let version = parent.version;
    const split = parent.version ? null : splitSelector(name);
    // the kernel leaves NAME_MAX to the filesystem (ext4 answers this in lookup too)
    if (Buffer.byteLength(split ? split.name : name) > MAX_NAME_BYTES) throw fsError('ENAMETOOLONG', `name longer than ${MAX_NAME_BYTES} bytes`);
    if (split) {
      // name@version in a head directory: the same path, read at that version
      version = split.selector.kind === 'version' ? split.selector.version : await this.fs.versionAt(split.selector.date);
      view = await this.fs.view(version);
      const path = joinPath(this.nodes.pathOf(parentId), split.name);
      ino = (await view.resolve(parsePath(path).names, false, path)).ino;
    } else {
      view = await this.fs.view(version);
      // with the unlinks, rmdirs and links made here and not committed yet (HandleTable.changeLater)
      ino = (version ? await view.lookup(parent.ino, name) : await this.headEntry(view, parent.ino, name))?.ino;
    }
    const ttl = this.ttl(version);
    if (ino === undefined) return [entryOut(0, null, version ? ttl : this.cacheSeconds.negative, 0)]; // cached "no such name"
    const stat = view.statOf(ino, await this.inodeOf({ ino, version }, view));
    const id = this.nodes.remember(ino, parentId, name, version);
    return [entryOut(id, this.shown(stat, version), ttl, ttl)];
  }

  /** The slot (parent directory, name; `path` names it) a change names; EROFS under a past version. */
  private async slot(tx: FsTx, parentId: number, name: string, path: string): Promise<Slot> {
    const parent = this.mustNode(parentId);
    if (parent.version) throw fsError('EROFS', `read-only: ${path} is inside a past version`, path);
    return tx.slot(parent.ino, name, path);
  }

  /**
   * Whether a create or mkdir of `name` in directory `parentId` may be committed later
   * (createLater): at head, while fewer than HandleTable's maximum of creates wait, and not under
   * a name an entry change after the pending creates removed (the commit makes the creates first:
   * the new file would meet the old one there).
   */
  private mayDefer(parentId: number, name: string): boolean {
    const parent = this.deferrableDir(parentId);
    return !!parent && this.handles.afterCreates.name(parent.ino, name) === undefined;
  }

  /** Node `parentId` when it is a head directory in which one more change may wait for the pending creates' commit (HandleTable.mayDeferCreateIn). */
  private deferrableDir(parentId: number): Node | undefined {
    const parent = this.nodes.get(parentId);
    return parent && !parent.version && this.handles.mayDeferCreateIn(parent.ino) ? parent : undefined;
  }

  /**
   * Commits what is pending when `ino` is a directory not committed yet. createBarrier() already
   * did before any request that could need it; this covers requests that overlapped (from
   * concurrent processes), so that no commit names a directory the store does not have.
   */
  private async settle(ino: number): Promise<void> {
    if (this.handles.isPendingDir(ino)) await this.handles.commitCreates();
  }

  /** One commit changing the entry `name` of directory `parentId`. */
  private async change<T>(parentId: number, name: string, what: string, fn: (tx: FsTx, at: Slot) => Promise<T>, as: AgentFs = this.fs): Promise<T> {
    await this.settle(this.mustNode(parentId).ino);
    const path = joinPath(this.nodes.pathOf(parentId), name);
    return (await this.handles.transaction(as, `${what} ${path}`, async (tx) => fn(tx, await this.slot(tx, parentId, name, path)))).value;
  }

  /** One commit changing a node itself (attributes, xattrs); EROFS for a past node. */
  private async changeNode(id: number, what: string, fn: (tx: FsTx, node: Node) => Promise<unknown>): Promise<void> {
    const node = this.mustNode(id);
    const path = this.nodes.pathOf(id);
    if (node.version) throw fsError('EROFS', `read-only: ${path} is a past version`, path);
    await this.handles.flushIno(node.ino);
    // after the creates answered before it: the node's own, when it is a directory made here (what
    // settle() does for entry changes), or files made just before (a truncate of a manifest naming one)
    if (this.handles.createsPending) await this.handles.commitCreates();
    await this.handles.transaction(this.fs, `${what} ${path}`, async (tx) => {
      tx.batch.touch(path);
      await fn(tx, node);
    });
  }

  /**
   * Creates an entry as the calling process (owner = its uid/gid); returns its inode number and
   * the entry reply, with the attributes the commit wrote.
   */
  private async create(h: InHeader, parentId: number, name: string, what: string, fn: (tx: FsTx, at: Slot) => Promise<{ ino: number; inode: Inode }>): Promise<{ ino: number; entry: Buffer }> {
    const as = this.fs.withActor(this.fs.actor, { uid: h.uid, gid: h.gid });
    // the creates this mount answered before are committed before it, as they were made
    if (this.handles.createsPending) await this.handles.commitCreates();
    const { ino, stat, reserved } = await this.change(parentId, name, what, async (tx, at) => {
      const made = await fn(tx, at);
      // inode numbers for the creates that commit with their file's first flush (createLater)
      return { ino: made.ino, stat: tx.statOf(made.ino, made.inode), reserved: await this.handles.reserveInos(tx) };
    }, as);
    reserved?.();
    const ttl = this.ttl(undefined);
    return { ino, entry: entryOut(this.nodes.remember(ino, parentId, name), this.shown(stat, undefined), ttl, ttl) };
  }

  /**
   * CREATE of a file opened for writing, committed once it is closed (sharing a commit with the
   * files closed after it) instead of now (HandleTable.createOpen), or MKDIR, committed with the
   * first file made in the directory (HandleTable.mkdirLater) — under a reserved inode number. Checks what the create commit will
   * check, so that it fails here, not at close: the directory is a head directory (EROFS), the
   * name is valid and free. Another surface taking the name in between makes the close fail.
   */
  private async createLater(h: InHeader, name: string, type: 'file' | 'dir', mode: number, ino: number): Promise<Payload> {
    const parent = this.mustNode(h.nodeid);
    const path = joinPath(this.nodes.pathOf(h.nodeid), name);
    if (parent.version) throw fsError('EROFS', `read-only: ${path} is inside a past version`, path);
    checkName(name, path);
    const view = await this.fs.view();
    // a directory not committed yet holds nothing but what is pending in it
    const pending = this.handles.createdInode(parent.ino);
    const dir = pending ?? (await view.mustInode(parent.ino, path));
    if (dir.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${path}`, path);
    const taken = this.handles.createdIn(parent.ino, name) || (!pending && (await this.headEntry(view, parent.ino, name)));
    if (taken) throw fsError('EEXIST', `file exists: ${path}`, path);
    const caller = { uid: h.uid, gid: h.gid };
    const inode = newInode(parent.ino, dir, { type, mode }, caller, this.fs.store.clock());
    const ttl = this.ttl(undefined);
    const entry = entryOut(this.nodes.remember(ino, h.nodeid, name), this.shown(view.statOf(ino, inode), undefined), ttl, ttl);
    if (type === 'dir') {
      this.handles.mkdirLater({ ino, parentIno: parent.ino, name, path, inode });
      return [entry];
    }
    const handle = this.handles.createOpen(ino, path, { parentIno: parent.ino, name, inode });
    // no FLUSH at close(2): for a file not committed yet it would do what RELEASE does (wait to
    // share a commit: HandleTable.flushOnClose), and close(2) waits for a FLUSH but not for a
    // RELEASE — one round trip less for every file tar, cp or git makes
    return [entry, openOut(handle.fd, FOPEN_NOFLUSH)];
  }

  /**
   * UNLINK or RMDIR answered now and committed later (HandleTable.changeLater, or with the
   * pending creates: changeAfterCreates), after the checks its commit would make: the entry is
   * there (creates and entry changes not committed yet count), of the right type, and a
   * directory is empty. False when it must be committed now instead: in a past version (the
   * commit answers EROFS), while creates are pending unless it unlinks a name they made or
   * linked (afterRemovable), or when a handle here has the inode open.
   */
  private async removeLater(parentId: number, name: string, dir: boolean): Promise<boolean> {
    const parent = this.mustNode(parentId);
    if (parent.version) return false;
    // while creates are pending: only the unlink of a name they made or linked (afterRemovable)
    const after = this.handles.createsPending;
    if (after && (dir || !this.afterRemovable(parentId, name))) return false;
    const path = joinPath(this.nodes.pathOf(parentId), name);
    checkName(name, path);
    const view = await this.fs.view();
    const entry = await this.headEntry(view, parent.ino, name);
    if (!entry) throw fsError('ENOENT', `no such file or directory: ${path}`, path);
    if (this.handles.isOpen(entry.ino)) return false;
    if (!dir && entry.type === 'dir') throw fsError('EISDIR', `is a directory (use rmdir or a recursive delete): ${path}`, path);
    if (dir && entry.type !== 'dir') throw fsError('ENOTDIR', `not a directory: ${path}`, path);
    if (dir && !(await this.handles.entries.isEmpty(entry.ino, (limit) => view.firstNames(entry.ino, limit)))) throw fsError('ENOTEMPTY', `directory not empty: ${path}`, path);
    const change = { kind: dir ? 'rmdir' : 'unlink', parentIno: parent.ino, name, ino: entry.ino, type: entry.type, path, time: this.fs.store.clock() } as const;
    if (after) this.handles.changeAfterCreates(change);
    else await this.handles.changeLater(change);
    return true;
  }

  /**
   * Whether an unlink of `name` in directory `parentId` may wait for the pending creates' commit
   * (HandleTable.changeAfterCreates): the name is one they made or linked, not a directory, in a
   * head directory that may take more (no buffered attributes: mayDeferCreateIn).
   */
  private afterRemovable(parentId: number, name: string): boolean {
    const parent = this.deferrableDir(parentId);
    if (!parent) return false;
    const pending = this.handles.pendingName(parent.ino, name);
    return !!pending && pending.type !== 'dir';
  }

  /** Whether a link of `target` into directory `parentId` may wait for the pending creates' commit: a file they made, into a head directory that may take more. */
  private afterLinkable(parentId: number, target: Node | undefined): boolean {
    return !!this.deferrableDir(parentId) && !!target && !target.version && this.handles.isPendingFile(target.ino);
  }

  /**
   * LINK answered now and committed later: with the next commit (HandleTable.changeLater), or —
   * while creates are pending, for a link to a file one of them made — with their commit, after
   * them (changeAfterCreates): git links each new object to its name and unlinks the temporary
   * name, and objects written one after another share a commit. Checks what the commit would
   * (the name is valid and free, the inode is a head non-directory with links left); null when
   * it must be committed now instead (a past version, a link to another file while creates are
   * pending, or anything the commit path answers with an error).
   */
  private async linkLater(parentId: number, target: Node | undefined, name: string): Promise<Payload | null> {
    const parent = this.mustNode(parentId);
    if (parent.version || !target || target.version) return null;
    // while creates are pending: only a link to a file they made (afterLinkable)
    const after = this.handles.createsPending;
    if (after && !this.afterLinkable(parentId, target)) return null;
    const path = joinPath(this.nodes.pathOf(parentId), name);
    checkName(name, path);
    const view = await this.fs.view();
    const inode = this.handles.createdInode(target.ino) ?? (await view.inode(target.ino));
    if (!inode || inode.type === 'dir' || (this.handles.createdInode(parent.ino) ?? (await view.inode(parent.ino)))?.type !== 'dir') return null;
    const links = this.shown(view.statOf(target.ino, inode), undefined).nlink;
    if (links === 0 || links >= MAX_LINKS) return null;
    if (await this.headEntry(view, parent.ino, name)) throw fsError('EEXIST', `file exists: ${path}`, path);
    const change = { kind: 'link', parentIno: parent.ino, name, ino: target.ino, type: inode.type, path, time: this.fs.store.clock() } as const;
    if (after) this.handles.changeAfterCreates(change);
    else await this.handles.changeLater(change);
    const id = this.nodes.remember(target.ino, parentId, name);
    const { stat } = await this.statNode(id);
    const ttl = this.ttl(undefined);
    return [entryOut(id, stat, ttl, ttl)];
  }

  /** The entry `name` of head directory `dirIno`, with the creates and entry changes not committed yet applied. */
  private async headEntry(view: FsView, dirIno: number, name: string): Promise<{ ino: number; type: FileType } | undefined> {
    // newest first: the changes after the pending creates, the creates, the changes before them
    const after = this.handles.pendingName(dirIno, name);
    const pending = after !== undefined ? after : this.handles.entries.name(dirIno, name);
    return pending === undefined ? view.lookup(dirIno, name) : (pending ?? undefined);
  }

  private async rename(fromDir: number, from: string, toDir: number, to: string, flags: number): Promise<Payload> {
    if (flags & ~RENAME_NOREPLACE) throw fsError('EINVAL', 'rename: only RENAME_NOREPLACE is supported');
    const fromPath = joinPath(this.nodes.pathOf(fromDir), from);
    const toPath = joinPath(this.nodes.pathOf(toDir), to);
    for (const id of [fromDir, toDir]) await this.settle(this.mustNode(id).ino);
    const { value: ino } = await this.handles.transaction(this.fs, `rename ${fromPath} -> ${toPath}`, async (tx) =>
      tx.renameIn(await this.slot(tx, fromDir, from, fromPath), await this.slot(tx, toDir, to, toPath), { noReplace: (flags & RENAME_NOREPLACE) !== 0 }),
    );
    this.nodes.moved(ino, toDir, to);
    this.handles.renamed(fromPath, toPath);
    return [];
  }

  private async setattr(id: number, body: Buffer): Promise<Payload> {
    const valid = body.readUInt32LE(0);
    const time = (secAt: number, nsecAt: number): number => Number(body.readBigInt64LE(secAt)) * 1000 + body.readUInt32LE(nsecAt) / 1e6;
    const now = this.fs.store.clock();
    const attr: SetAttr = {};
    if (valid & Fattr.MODE) attr.mode = body.readUInt32LE(68) & 0o7777;
    if (valid & Fattr.UID) attr.uid = body.readUInt32LE(76);
    if (valid & Fattr.GID) attr.gid = body.readUInt32LE(80);
    if (valid & Fattr.SIZE) attr.size = Number(body.readBigUInt64LE(16));
    if (valid & Fattr.ATIME) attr.atime = valid & Fattr.ATIME_NOW ? now : time(32, 56);
    if (valid & Fattr.MTIME) attr.mtime = valid & Fattr.MTIME_NOW ? now : time(40, 60);
    const node = this.mustNode(id);
    if (valid & Fattr.KILL_SUIDGID) {
      const mode = attr.mode ?? (await this.statNode(id)).stat.mode & 0o7777;
      if (killSuidGid(mode) !== mode) attr.mode = killSuidGid(mode);
    }
    // tar's fchown/fchmod/futimens between writing and closing: buffered with the writes; its
    // restoring of a directory made here and not committed yet: buffered with the directory
    if (node.version || !(this.handles.bufferPendingDir(node.ino, attr) || (await this.handles.bufferAttr({ ino: node.ino }, attr)))) {
      if (attr.size === undefined && !node.version) {
        await this.handles.bufferLoose(node.ino, this.nodes.pathOf(id), attr);
      } else {
        const what = Object.keys(attr).join(',') || 'ctime';
        await this.changeNode(id, `setattr (${what})`, (tx) => tx.setattr(node.ino, attr));
      }
    }
    const { stat } = await this.statNode(id);
    return [attrOut(stat, this.ttl(node.version))];
  }

  /**
   * After the last handle on a file written through the mount is released, puts the file's
   * content into the kernel's page cache (NOTIFY_STORE), so reading it back sends no READ — as
   * on a local filesystem, where what was just written is read from memory. Why: without
   * writeback caching the kernel keeps the pages a write covered whole, but marks none up to
   * date that two writes shared — tar writes 10 KiB records, so most files kept a page or two it
   * had to READ back (8,449 READs reading back 5,000 untarred files). Files up to STORE_MAX.
   *
   * Invariant: the kernel's pages of a file are what a write through the mount left there or what
   * we read from the store, never older. So nothing else may write to these pages meanwhile:
   * no handle is open on the inode (every writer, and every mapping, holds one) and no OPEN or
   * SETATTR (a truncate by path: its answer resizes the pages) is in flight, checked as the store
   * starts; from then until it is written every request on the node waits for it (handle()).
   * Another surface's change in between is dropped by the invalidator like any other.
   */
  private storePages(nodeid: number, ino: number): void {
    if (this.storing.has(nodeid) || this.reaching.has(nodeid) || this.handles.isOpen(ino)) return;
    const done: Promise<void> = (async () => {
      const view = await this.fs.view();
      const inode = await view.inode(ino);
      if (!inode || inode.type !== 'file' || inode.size === 0 || inode.size > STORE_MAX) return;
      const data = await view.readContent(ino, inode, 0, inode.size);
      await this.channel.notify(Notify.STORE, storeOut(nodeid, 0, data));
    })()
      .catch((err: unknown) => console.error(`timefs fuse: putting ${this.nodes.pathOf(nodeid)} into the page cache failed`, err))
      .finally(() => {
        if (this.storing.get(nodeid) === done) this.storing.delete(nodeid);
      });
    this.storing.set(nodeid, done);
  }

  /** An OPEN or SETATTR on `nodeid` was answered (see `reaching`). */
  private reached(nodeid: number): void {
    const n = (this.reaching.get(nodeid) ?? 1) - 1;
    if (n > 0) this.reaching.set(nodeid, n);
    else this.reaching.delete(nodeid);
  }

  /** `openFlags`: fuse_open_in.open_flags (OPEN_KILL_SUIDGID) */
  private async open(id: number, flags: number, openFlags: number): Promise<Payload> {
    const { node, stat } = await this.statNode(id);
    const writing = (flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0;
    if (node.version && writing) throw fsError('EROFS', `read-only: ${this.nodes.pathOf(id)} is a past version`);
    if (stat.type === 'dir') throw fsError('EISDIR', 'is a directory');
    const handle = this.handles.open(node.ino, this.nodes.pathOf(id), { writable: writing, ...(node.version ? { version: node.version } : {}) });
    if (flags & O_TRUNC) {
      // ATOMIC_O_TRUNC: the truncation comes with the OPEN (the kernel has emptied its pages) and
      // is buffered in the new handle, so `echo x > file` is one commit — no version holds the
      // file emptied and not yet written. As a truncate by open does: times now, and
      // set-user/group-ID bits cleared when the kernel says the caller may not keep them.
      const attr: SetAttr = { size: 0, mtime: this.fs.store.clock() };
      const mode = stat.mode & 0o7777;
      if (openFlags & OPEN_KILL_SUIDGID && killSuidGid(mode) !== mode) attr.mode = killSuidGid(mode);
      await this.handles.bufferInto(handle, attr);
    }
    // Pages stay cached across opens, at head too, as on a local filesystem. A past file never
    // changes; a head file changes through this mount (the kernel updates its own pages, and
    // storePages fills the ones it could not) or elsewhere, and then the invalidator drops its
    // pages within WATCH_MS (see init() for why the kernel does not drop them on a new mtime).
    // A handle that cannot write never buffers anything (HandleTable.bufferAttr picks writable
    // ones), so its FLUSH would do nothing: the kernel is told not to send it at close.
    return [openOut(handle.fd, FOPEN_KEEP_CACHE | (handle.writable ? 0 : FOPEN_NOFLUSH))];
  }

  private async readdir(nodeId: number, offset: number, size: number, plus: boolean): Promise<Payload> {
    const { node, view } = await this.nodeView(nodeId);
    let { listing, index } = this.listings.find(nodeId, offset);
    if (!listing) {
      const inode = await view.mustInode(node.ino);
      const committed = await view.readdir(node.ino, undefined, inode);
      // with the unlinks, rmdirs and links made here and not committed yet (HandleTable.changeLater)
      const listed = node.version ? committed : this.handles.entries.listing(node.ino, committed);
      const stats = plus ? await view.inodesOf(listed.map((e) => e.ino)) : null;
      listing = this.listings.add(nodeId, [
        { name: '.', ino: node.ino, type: 'dir' },
        { name: '..', ino: inode.parent ?? node.ino, type: 'dir' },
        ...listed.map((e): Listed => {
          const child = stats?.get(e.ino);
          return child ? { ...e, stat: view.statOf(e.ino, child) } : e;
        }),
      ]);
    }
    const entries = listing.entries;
    if (index >= entries.length) {
      this.listings.drop(listing);
      return [];
    }
    // the entries that fit, then a buffer of just their size: most listings are far smaller than
    // the kernel's page, and a small buffer comes from Node's pool instead of a fresh allocation
    const names: Buffer[] = [];
    let need = 0;
    for (let i = index; i < entries.length; i++) {
      const name = Buffer.from(entries[i]!.name);
      if (need + direntSize(name.length, plus) > size) break;
      need += direntSize(name.length, plus);
      names.push(name);
    }
    const out = Buffer.allocUnsafe(need);
    let used = 0;
    const version = node.version;
    const ttl = this.ttl(version);
    for (let i = index; i < index + names.length; i++) {
      const e = entries[i]!;
      const name = names[i - index]!;
      const dirent = { ino: e.ino, next: this.listings.offsetAfter(listing, i), type: DT[e.type] ?? 0, name };
      if (!plus) used = writeDirent(out, used, dirent);
      else if (i < 2 || !e.stat) used = writeDirent(out, used, dirent, { nodeid: 0, attr: null, entryValid: 0, attrValid: 0 });
      else {
        // each entry handed back with its node counts as a lookup of it
        const nodeid = this.nodes.remember(e.ino, node.id, e.name, version);
        used = writeDirent(out, used, dirent, { nodeid, attr: this.shown(e.stat, version), entryValid: ttl, attrValid: ttl });
      }
    }
    return [out.subarray(0, used)];
  }
}

/** getxattr/listxattr: size 0 asks for the length; a smaller buffer than the value is ERANGE. */
function sized(value: Buffer, size: number): Payload {
  if (size === 0) return [u32Out(value.length)];
  if (size < value.length) throw fsError('ERANGE', 'buffer too small');
  return [value];
}
