import type { AgentFs } from '../fs/agentfs.js';
import { FsError } from '../fs/errors.js';
import { MAX_NAME_BYTES } from '../fs/path.js';
import type { FsTx, SetAttr } from '../fs/tx.js';
import type { Inode, Stat } from '../fs/types.js';
import type { Version } from '../store/version.js';
import { MAX_ENTRY_CHANGES, PendingEntries, type CarriedEntries, type EntryChange, type PendingName } from './entries.js';

/** Buffered writes above this many bytes are committed without waiting for flush. */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** A loose attribute change (see bufferLoose) is committed at the latest this long after it was made (ms). */
const LOOSE_MS = 20;
/**
 * Most inodes whose loose changes wait for one commit. Below MAX_LOGGED_PATHS (256), so the
 * commit's log record names every path it changed and other mounts drop just those from their
 * kernel caches (kernel/invalidate.ts), not everything.
 */
const MAX_LOOSE = 128;
/**
 * Files created here and closed wait for others to share their commit: until none was closed for
 * CLOSED_MS, at most CLOSED_MAX_MS after the first (ms). tar, cp -r, unzip and git checkout close
 * a file every millisecond or so, and one commit of many files costs a third of what a commit per
 * file does (measured in-process: ~300 µs → ~100 µs per file). Their data is in memory
 * meanwhile: the mount shows it, other surfaces see it once committed, fsync commits it at once.
 * A mount may set a longer wait (`closedMs`; the most is always CLOSED_MAX_MS / CLOSED_MS times it).
 */
export const CLOSED_MS = 20;
export const CLOSED_MAX_MS = 100;
/**
 * Most creates (files and directories) that wait for one commit, and most bytes their files may
 * buffer: past either they are committed at once. Below MAX_LOGGED_PATHS (256) — with the
 * directories' changed times — so other mounts drop just those paths from their kernel caches.
 */
const MAX_PENDING_CREATES = 64;
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Inode numbers reserved at a time for creates not yet committed (see createOpen). */
const INO_RESERVE = 1024;
/** A create commit reserves more once fewer than this many are left. */
const INO_LOW = 256;

/** A file made through a handle and not committed yet: committed once closed (with the files closed after it), or before anything needs it. */
export interface PendingCreate {
  parentIno: number;
  name: string;
  /** the inode as the create commit will write it (what getattr shows meanwhile) */
  inode: Inode;
}

/** A directory made and not committed yet (see mkdirLater). */
export interface PendingDir extends PendingCreate {
  ino: number;
  path: string;
  /** attribute changes made since (see bufferPendingDir), in order */
  attrs?: Array<{ attr: SetAttr; time: number }>;
}

/** A change made through an open handle and not yet committed, with the time it was made. */
export type PendingOp = { kind: 'write'; offset: number; data: Buffer; time: number } | { kind: 'attr'; attr: SetAttr; time: number };

export interface Handle {
  fd: number;
  ino: number;
  path: string;
  /** opened for writing (only such handles buffer changes) */
  writable: boolean;
  /** set for handles opened through an @version path: read-only, read at that version */
  version?: Version;
  /** changes not yet committed, in the order they were made */
  pending: PendingOp[];
  /** changes taken from `pending` by a commit still running (the overlay applies them too) */
  inflight: PendingOp[];
  pendingBytes: number;
  /** set once anything was written through this handle */
  written?: boolean;
  /** the handle's commits, in order; awaiting it waits for changes already taken from `pending` */
  chain: Promise<void>;
  /** set while the file this handle created is not committed (see HandleTable.createOpen) */
  create?: PendingCreate;
  /** released by its opener while its create waits to be committed: dropped once it is (see release) */
  closed?: boolean;
  /** runs once a closed handle's create is committed */
  onCommitted?: () => void;
  /** the last commit a write started in the background past MAX_BUFFERED (see write()); settled once done */
  writeback?: Promise<void>;
  /** why a background commit failed: the handle's next write, fsync or close reports it */
  failed?: unknown;
}

/**
 * Open files of one mount, with write-back. Writes — and attribute changes made while a file is
 * open for writing (tar's fchown/fchmod/futimens after writing) — are buffered per handle and
 * committed as ONE commit, in order, at flush, fsync, release, every 3 s (mount.ts), or early past
 * 8 MiB; each keeps the time it was made, so an mtime set after writing survives the commit.
 * Files and directories made here are committed later, many in one commit (createOpen, mkdirLater,
 * commitCreates).
 *
 * Invariants: what this mount reports never depends on whether a change was committed yet —
 * getattr applies the buffered changes to the committed attributes (overlay), and anything that
 * reads or changes content in other ways commits them first (flushIno/flushPath).
 */
export class HandleTable {
  private next = 10;
  private readonly handles = new Map<number, Handle>();
  /** internal handles holding loose attribute changes, one per inode, by inode (see bufferLoose) */
  private readonly loose = new Map<number, Handle>();
  private looseTimer: NodeJS.Timeout | undefined;
  /** loose changes being committed, one commit after another; settles once all are (never rejects) */
  private looseFlush: Promise<void> | null = null;
  /** inodes with loose changes buffered or being committed: how many loose handles each has */
  private readonly looseInos = new Map<number, number>();
  /** handles whose file is not committed yet, by inode, in the order made (see createOpen) */
  private readonly creating = new Map<number, Handle>();
  /**
   * Directories not committed yet, in the order they were made (see mkdirLater). Invariant: a
   * directory's parent was made before it (committed, or earlier in this map), so writing them
   * in this order, then the files, never names a directory the store does not have yet.
   */
  private readonly dirs = new Map<number, PendingDir>();
  /** the commits of pending creates, one after another (see commitCreates); never rejects */
  private createsChain: Promise<void> = Promise.resolve();
  /** commits the closed creates (see CLOSED_MS), armed at the first close since the last commit */
  private createsTimer: NodeJS.Timeout | undefined;
  private createsSince = 0;
  /** pending directories whose commit is running: their attribute changes are loose ones now */
  private readonly committingDirs = new Set<number>();
  /** inode numbers reserved for createOpen: [next, end) */
  private inos = { next: 0, end: 0 };
  /**
   * Unlinks, rmdirs and hard links answered and not committed yet (see changeLater). Invariant:
   * each was made before every create in `creating` and `dirs` (an unlink, rmdir or link commits
   * the pending creates first), so a commit writes them first.
   */
  readonly entries = new PendingEntries();
  /**
   * Unlinks and hard links answered while creates were pending, of names those creates made or
   * links to their files (git: the link of each new object to its name, the unlink of its
   * temporary name; see changeAfterCreates). Invariant: each was made after every create in
   * `creating` and `dirs` that it names, and only the creates' commit applies them, after the
   * creates — no other commit carries them (createsPending stays true while any waits, so the
   * barriers send everything else through that commit first).
   */
  readonly afterCreates = new PendingEntries();

  /** how long closed creates wait for the next close, and at most (ms; see CLOSED_MS) */
  private readonly closedMs: number;
  private readonly closedMaxMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly fs: AgentFs,
    options: { closedMs?: number; clock?: () => number } = {},
  ) {
    this.closedMs = options.closedMs ?? CLOSED_MS;
    this.closedMaxMs = (this.closedMs * CLOSED_MAX_MS) / CLOSED_MS;
    this.clock = options.clock ?? (() => fs.store.clock());
  }

  open(ino: number, path: string, options: { writable: boolean; version?: Version }): Handle {
    const h: Handle = { fd: this.next++, ino, path, writable: options.writable && !options.version, pending: [], inflight: [], pendingBytes: 0, chain: Promise.resolve(), ...(options.version ? { version: options.version } : {}) };
    this.handles.set(h.fd, h);
    this.fs.retain(ino);
    return h;
  }

  /**
   * Opens a file that is created with its first commit, not now: tar, cp and git create a file,
   * write it and close it, and the create and the content become ONE commit instead of two —
   * shared with the other files closed within CLOSED_MS, and made at the latest at fsync, at the
   * 3 s timer, or before any request that needs it. `ino` comes from takeIno(). Until then the file
   * exists for this mount only: getattr answers `create.inode` with the buffered changes applied
   * (overlay), and its directory the times the commit will give it; the caller must commit it
   * (commitCreates) before any request that could see it or its directory otherwise (the kernel
   * driver's FuseSession.createBarrier). Other surfaces see the file from its first commit.
   * Should another surface take the name meanwhile, the file is committed beside it under a
   * conflict name (writeCreate); should the commit fail otherwise, it is logged, an fsync (or a
   * flush past 8 MiB) reports it — close does not wait for the commit, as on a local filesystem
   * close does not wait for write-back — and the handle's later commits find no file (ENOENT).
   */
  createOpen(ino: number, path: string, create: PendingCreate): Handle {
    const h = this.open(ino, path, { writable: true });
    h.create = create;
    this.creating.set(ino, h);
    return h;
  }

  /** A reserved inode number for createOpen, or undefined when none is left (create at once, which reserves more). */
  takeIno(): number | undefined {
    return this.inos.next < this.inos.end ? this.inos.next++ : undefined;
  }

  /**
   * Reserves inode numbers in `tx` when few are left; call the result once `tx` has committed.
   * Every create commit of the mount does it, so creates after the first need no commit of
   * their own.
   */
  async reserveInos(tx: FsTx): Promise<(() => void) | undefined> {
    if (this.inos.end - this.inos.next >= INO_LOW) return undefined;
    const first = await tx.reserveInos(INO_RESERVE);
    return () => {
      this.inos = { next: first, end: first + INO_RESERVE };
    };
  }

  /**
   * Makes a directory that is committed later, with the files made with it: tar makes a
   * directory, then the directories and files inside it, and `mkdir a/b/c` + a file in c become
   * one commit. Until then it exists for this mount only, as a file from createOpen does; being
   * new, it is empty but for what is pending in it, so a lookup in it needs no commit.
   */
  mkdirLater(dir: PendingDir): void {
    this.dirs.set(dir.ino, dir);
  }

  /** Whether one more create may wait to be committed (else the caller commits those pending first). */
  get mayDeferCreate(): boolean {
    return this.creating.size + this.dirs.size + this.afterCreates.size < MAX_PENDING_CREATES;
  }

  /**
   * Whether a create in directory `dirIno` may wait to be committed: mayDeferCreate, and the
   * directory is not one made here whose attributes were changed since (bufferPendingDir) — the
   * commit applies those after every file made in it, which must then all be older.
   */
  mayDeferCreateIn(dirIno: number): boolean {
    return this.mayDeferCreate && !this.dirs.get(dirIno)?.attrs;
  }

  /**
   * Buffers an attribute change of a directory made here and not committed yet, and says whether
   * it did: tar restores a directory's times, owner and mode once it has extracted what is in it.
   * The commit applies them after making the directory and the files in it (nothing more is made
   * in it before: mayDeferCreateIn), so the times it sets are the ones kept.
   */
  bufferPendingDir(ino: number, attr: SetAttr): boolean {
    const dir = this.dirs.get(ino);
    if (!dir || attr.size !== undefined || this.committingDirs.has(ino)) return false;
    (dir.attrs ??= []).push({ attr, time: this.clock() });
    return true;
  }

  /** Whether `ino` is a directory made here and not committed yet. */
  isPendingDir(ino: number): boolean {
    return this.dirs.has(ino);
  }

  /** The inode of a file or directory created here and not committed yet (a directory's buffered attribute changes applied). */
  createdInode(ino: number): Inode | undefined {
    const file = this.creating.get(ino)?.create?.inode;
    if (file) return file;
    const dir = this.dirs.get(ino);
    if (!dir?.attrs) return dir?.inode;
    const out = { ...dir.inode };
    for (const { attr: a, time } of dir.attrs) {
      if (a.mode !== undefined) out.mode = a.mode & 0o7777;
      if (a.uid !== undefined && a.uid !== -1) out.uid = a.uid;
      if (a.gid !== undefined && a.gid !== -1) out.gid = a.gid;
      if (a.atime !== undefined) out.atime = a.atime;
      if (a.mtime !== undefined) out.mtime = a.mtime;
      out.ctime = time;
    }
    return out;
  }

  /** True while some create (or an entry change made after one: afterCreates) is not committed. */
  get createsPending(): boolean {
    return this.creating.size > 0 || this.dirs.size > 0 || this.afterCreates.size > 0;
  }

  /** Whether `ino` is a file made here whose create is not committed yet. */
  isPendingFile(ino: number): boolean {
    return this.creating.has(ino);
  }

  /**
   * Whether a name not committed yet is in directory `dirIno` (named `name`, if given): made by a
   * pending create or mkdir, or linked after them — or, with no name, whether the pending changes
   * change the directory at all.
   */
  createdIn(dirIno: number, name?: string): boolean {
    if (name !== undefined) return !!this.pendingName(dirIno, name);
    if (this.afterCreates.changes(dirIno)) return true;
    for (const c of this.pendingCreates()) if (c.parentIno === dirIno) return true;
    return false;
  }

  /**
   * The entry `name` of directory `dirIno` as the pending creates and the changes after them leave
   * it: an inode, removed (null), or undefined when they do not name it.
   */
  pendingName(dirIno: number, name: string): PendingName | undefined {
    const after = this.afterCreates.name(dirIno, name);
    if (after !== undefined) return after;
    for (const h of this.creating.values()) if (h.create?.parentIno === dirIno && h.create.name === name) return { ino: h.ino, type: h.create.inode.type };
    for (const d of this.dirs.values()) if (d.parentIno === dirIno && d.name === name) return { ino: d.ino, type: 'dir' };
    return undefined;
  }

  /**
   * Answers an unlink or hard link now and commits it with the pending creates, after them: git
   * links each new object (a file not committed yet) to its name and unlinks its temporary name,
   * and with this its objects share commits as tar's files do. The caller checked what the commit
   * will check, and that the change names only what is pending or committed at head.
   */
  changeAfterCreates(c: EntryChange): void {
    this.afterCreates.add(c);
    this.closedPending();
  }

  private *pendingCreates(): IterableIterator<PendingCreate> {
    for (const h of this.creating.values()) if (h.create) yield h.create;
    yield* this.dirs.values();
  }

  /**
   * Commits every create and mkdir not committed yet, with what their files' handles buffered, as
   * ONE commit; resolves when done (with the commits of creates before it), never rejects: a
   * file's own flush or fsync reports a failure (commitCreatesOrFail), a closed file's or a
   * directory's is logged (the requests that made them were answered).
   */
  commitCreates(): Promise<void> {
    return this.commitCreatesOrFail().catch(() => {});
  }

  /** commitCreates, rejecting when the commit fails. */
  private commitCreatesOrFail(): Promise<void> {
    clearTimeout(this.createsTimer);
    this.createsTimer = undefined;
    const run = this.createsChain.then(() => this.commitPendingCreates());
    this.createsChain = run.catch(() => {});
    return run;
  }

  /** The creates pending now, in one commit: the directories in the order made, then the files. */
  private async commitPendingCreates(): Promise<void> {
    const files = [...this.creating.values()];
    const dirs = [...this.dirs.values()];
    const after = this.afterCreates.take();
    if (files.length === 0 && dirs.length === 0 && !after) return;
    for (const d of dirs) this.committingDirs.add(d.ino);
    // each file's earlier commits first (none but a running one: its create is its first)
    await Promise.all(files.map((h) => h.chain));
    const taken: TakenCreate[] = files.map((h) => ({ h, ops: takePending(h), create: h.create! }));
    const parts = taken.map(({ h, ops }) => {
      const { bytes, attrs } = describeOps(ops);
      return `${h.path}${bytes > 0 || attrs ? ` (${bytes} bytes${attrs ? ', attributes' : ''})` : ''}`;
    });
    const made = dirs.length > 0 ? mkdirSummary(dirs) : '';
    const created = parts.length === 0 ? '' : `create ${fewOf(parts)}`;
    const summary = [made, created, after?.summary ?? ''].filter(Boolean).join('; ');
    const commit = (async (): Promise<void> => {
      const renames: Renames = new Map();
      try {
        const { value: reserved } = await this.transaction(this.fs, summary, async (tx) => {
          renames.clear(); // a transaction may be run again
          for (const d of dirs) await writeCreate(tx, d.ino, d.path, d, renames); // parents first
          for (const file of taken) await writeFileCreate(tx, file, renames);
          await after?.apply(tx); // made after the creates they name
          // after everything made in them (mayDeferCreateIn)
          for (const d of dirs) await restoreDirAttrs(tx, d);
          return this.reserveInos(tx);
        });
        reserved?.();
        this.conflicted(renames);
      } catch (err) {
        // most of it was answered already (closed files, directories): it can only be logged
        if (dirs.length + taken.length + (after ? 1 : 0) <= 1) {
          console.error(`timefs fuse: committing ${summary} failed`, err);
          throw err;
        }
        // one part may be what failed (a chunk that cannot be written, a change refused): each
        // part in a commit of its own keeps the others
        console.error(`timefs fuse: committing ${summary} failed; committing its parts one at a time`, err);
        const failed = await this.commitApart(dirs, taken, parts, after);
        // a waiter (a file's fsync) hears of the first failure even when its own part was kept:
        // an error too many, never one too few
        if (failed !== undefined) throw failed;
      } finally {
        // committed, or failed for good (a later commit must not make an empty file instead)
        after?.done();
        for (const d of dirs) {
          this.dirs.delete(d.ino);
          this.committingDirs.delete(d.ino);
        }
        for (const { h } of taken) {
          h.inflight = [];
          h.create = undefined;
          this.creating.delete(h.ino);
        }
      }
    })();
    for (const { h } of taken) h.chain = commit.catch(() => {});
    try {
      await commit;
    } finally {
      for (const { h } of taken) if (h.closed) await this.drop(h);
    }
  }

  /**
   * What one create commit would have written (commitPendingCreates), a commit per part in the
   * same order: each directory, each file with what it buffered, the entry changes made after
   * them, the directories' restored attributes. A part that fails is logged and takes with it
   * only what depends on it (what is made in a directory that failed fails too). Returns the
   * first failure, if any.
   */
  private async commitApart(dirs: readonly PendingDir[], taken: readonly TakenCreate[], summaries: readonly string[], after: CarriedEntries | null): Promise<unknown> {
    // the entry changes every commit carries first, alone: should they be what fails, they are
    // dropped (logged) instead of failing each part
    await this.commitEntries();
    const renames: Renames = new Map(); // those of the parts committed so far
    let first: unknown;
    const part = async (summary: string, fn: (tx: FsTx, renames: Renames) => Promise<void>): Promise<void> => {
      let mine: Renames = new Map();
      try {
        const { value: reserved } = await this.transaction(this.fs, summary, async (tx) => {
          mine = new Map(renames); // afresh: a transaction may be run again
          await fn(tx, mine);
          return this.reserveInos(tx);
        });
        reserved?.();
      } catch (err) {
        console.error(`timefs fuse: committing ${summary} failed`, err);
        first ??= err;
        return;
      }
      const added: Renames = new Map([...mine].filter(([from]) => !renames.has(from)));
      this.conflicted(added);
      for (const [from, to] of added) renames.set(from, to);
    };
    for (const d of dirs) await part(`mkdir ${d.path}`, (tx, r) => writeCreate(tx, d.ino, d.path, d, r));
    for (const [i, file] of taken.entries()) await part(`create ${summaries[i]}`, (tx, r) => writeFileCreate(tx, file, r));
    if (after) await part(after.summary, (tx) => after.apply(tx));
    for (const d of dirs) if (d.attrs?.length) await part(`attributes of ${d.path}`, (tx) => restoreDirAttrs(tx, d));
    return first;
  }

  /**
   * A file made here was closed before its create was committed: commits the pending creates now
   * when they are at the limit (count or bytes), else arms the timer that commits them, or pushes
   * it back while CLOSED_MAX_MS allows.
   */
  private closedPending(): void {
    let bytes = 0;
    for (const h of this.creating.values()) bytes += h.pendingBytes;
    if (!this.mayDeferCreate || bytes >= MAX_PENDING_BYTES) {
      void this.commitCreates();
      return;
    }
    const now = performance.now();
    if (!this.createsTimer) {
      this.createsSince = now;
      this.createsTimer = setTimeout(() => void this.commitCreates(), this.closedMs);
    } else if (now - this.createsSince + this.closedMs <= this.closedMaxMs) {
      this.createsTimer.refresh();
    }
  }

  /** Forgets a closed handle whose create was committed, after committing what it buffered since (it was unretained at release). */
  private async drop(h: Handle): Promise<void> {
    try {
      await this.flush(h);
    } catch {
      // its file's commit failed; logged by the commit
    } finally {
      this.handles.delete(h.fd);
      h.onCommitted?.();
    }
  }

  /**
   * Answers an unlink, rmdir or hard link now and commits it later (PendingEntries), with the
   * next commit of this mount or on its own: at fsync, the write-back timer, or once
   * MAX_ENTRY_CHANGES are pending. The caller checked what the commit will check (for a
   * removal: the entry is there and of the right type, a directory is empty; for a link: the
   * name is free) and that no create is pending.
   */
  async changeLater(c: EntryChange): Promise<void> {
    this.entries.add(c);
    if (this.entries.size >= MAX_ENTRY_CHANGES) await this.commitEntries();
  }

  /**
   * Commits the pending entry changes on their own; never rejects. They were answered already: a
   * failure can only be logged, and they are dropped then, so that every later commit of the
   * mount (which carries them) does not fail too.
   */
  async commitEntries(): Promise<void> {
    const carried = this.entries.take();
    if (!carried) return;
    try {
      await this.fs.transaction(carried.summary, (tx) => carried.apply(tx));
    } catch (err) {
      console.error(`timefs fuse: committing ${carried.summary} failed`, err);
    } finally {
      carried.done();
    }
  }

  /**
   * Every commit of this mount: `fn` in one transaction of `fs`, after the pending entry changes
   * (so the commit shows them made, as they were, before what it commits).
   */
  async transaction<T>(fs: AgentFs, summary: string, fn: (tx: FsTx) => Promise<T>): Promise<{ value: T }> {
    const carried = this.entries.take();
    const result = await fs.transaction(carried ? `${carried.summary}; ${summary}` : summary, async (tx) => {
      await carried?.apply(tx);
      return fn(tx);
    });
    carried?.done();
    return result;
  }

  /** Whether a handle here (the loose one included; not one closed and waiting for its create's commit) has inode `ino` open. */
  isOpen(ino: number): boolean {
    for (const h of this.handles.values()) if (h.ino === ino && !h.closed) return true;
    return false;
  }

  get(fd: number): Handle | undefined {
    return this.handles.get(fd);
  }

  /** Buffers a write; `data` must be the caller's own copy (both drivers reuse request buffers). */
  async write(h: Handle, offset: number, data: Buffer): Promise<void> {
    reportFailure(h);
    h.pending.push({ kind: 'write', offset, data, time: this.clock() });
    h.pendingBytes += data.length;
    h.written = true;
    if (h.pendingBytes < MAX_BUFFERED) return;
    // Committed in the background: the writer fills the next MAX_BUFFERED while this batch's
    // chunks are hashed, then written and fsynced by the thread pool — one such commit per handle
    // at a time. A failure is reported by the handle's next write, fsync or close, as a local
    // filesystem reports a failed write-back, and logged if the handle is released first.
    await h.writeback;
    h.writeback = this.flush(h).catch((err: unknown) => {
      h.failed ??= err;
    });
  }

  /** FSYNC, and FLUSH of a committed file: commits the handle's changes and reports a background commit's failure (see write()). */
  async fsync(h: Handle): Promise<void> {
    await this.flush(h);
    reportFailure(h);
  }

  /**
   * Buffers an attribute change when the file (a head path, or an inode number) is open for
   * writing here, and says whether it did. Other handles of the inode are committed first, so
   * changes stay in order.
   */
  async bufferAttr(file: { path: string } | { ino: number }, attr: SetAttr): Promise<boolean> {
    if (attr.size !== undefined) return false;
    const matches = 'ino' in file ? (h: Handle) => h.ino === file.ino : (h: Handle) => h.path === file.path;
    let target: Handle | undefined;
    for (const h of this.handles.values()) if (matches(h) && h.writable && (!target || h.pending.length > 0)) target = h;
    if (!target) return false;
    await this.bufferInto(target, attr);
    return true;
  }

  /**
   * Buffers a change in `h` itself — open(O_TRUNC)'s truncation, committed with what is written
   * through the handle next. Other handles of the inode are committed first, so changes stay in order.
   */
  async bufferInto(h: Handle, attr: SetAttr): Promise<void> {
    for (const other of this.handles.values()) if (other !== h && other.ino === h.ino) await this.flush(other);
    h.pending.push({ kind: 'attr', attr, time: this.clock() });
  }

  /**
   * Buffers an attribute change of an inode that no handle here is writing: tar sets each
   * directory's owner, mode and times in three requests after extracting all files, directory
   * after directory, and `chmod -R`/`chown -R`/`touch` change one inode after another. The
   * changes of up to MAX_LOOSE inodes become one commit, made LOOSE_MS after the first of them
   * (tar sets a directory's attributes once it has left it: 4,168 commits of four rows for an
   * untar of 5,000 files before, a few hundred now). The caller must commit them (looseBarrier)
   * before any request that could observe one of those inodes other than through the overlay —
   * the kernel driver's FuseSession.looseBarrier says which; what it lets through (a create,
   * write or close elsewhere) touches other inodes, so the order of commits cannot matter.
   */
  async bufferLoose(ino: number, path: string, attr: SetAttr): Promise<void> {
    // full: those are committed (in order, after any loose commit still running) and these start anew
    if (!this.loose.has(ino) && this.loose.size >= MAX_LOOSE) void this.flushLoose();
    let h = this.loose.get(ino);
    if (!h) {
      if (this.loose.size === 0) this.looseTimer = setTimeout(() => void this.flushLoose(), LOOSE_MS);
      h = this.open(ino, path, { writable: true });
      this.loose.set(ino, h);
      this.looseInos.set(ino, (this.looseInos.get(ino) ?? 0) + 1);
    }
    h.pending.push({ kind: 'attr', attr, time: this.clock() });
  }

  /** Commits the loose changes; resolves when every loose change so far is committed. */
  flushLoose(): Promise<void> {
    if (this.loose.size > 0) {
      const taken = [...this.loose.values()];
      this.loose.clear();
      clearTimeout(this.looseTimer);
      // after the loose commit before it, so an inode's changes are committed in the order made
      const previous = this.looseFlush;
      const all: Promise<void> = (async () => {
        await previous;
        await this.commitLoose(taken);
      })().then(() => {
        if (this.looseFlush === all) this.looseFlush = null;
      });
      this.looseFlush = all;
    }
    return this.looseFlush ?? Promise.resolve();
  }

  /** null when no loose change is buffered or being committed (no need to wait); else flushLoose(). */
  looseBarrier(): Promise<void> | null {
    return this.loose.size > 0 || this.looseFlush ? this.flushLoose() : null;
  }

  /** Whether inode `ino` has loose changes buffered or being committed. */
  isLoose(ino: number): boolean {
    return this.looseInos.has(ino);
  }

  /**
   * One commit of the loose changes of `taken`; never rejects. The requests that made them were
   * answered already, so a failure can only be logged. An inode removed meanwhile (by another
   * surface: this mount commits them before its own removals) is skipped — its changes went with
   * it — and does not take the others' changes down with it.
   */
  private async commitLoose(taken: Handle[]): Promise<void> {
    for (const h of taken) takePending(h);
    const names = taken.map((h) => h.path);
    const summary = `setattr ${fewOf(names)}`;
    try {
      await this.transaction(this.fs, summary, async (tx) => {
        for (const h of taken) {
          if (h.inflight.length === 0) continue; // committed already (flushIno, before reading it)
          try {
            for (const op of h.inflight) if (op.kind === 'attr') await tx.setattr(h.ino, { ...op.attr, ctime: op.time });
          } catch (err) {
            if (err instanceof FsError && err.code === 'ENOENT') continue; // nothing written for it: setattr checks first
            throw err;
          }
          tx.batch.touch(h.path); // history(path) finds the commit
        }
      });
    } catch (err) {
      console.error(`timefs fuse: committing attribute changes (${summary}) failed`, err);
    } finally {
      for (const h of taken) {
        h.inflight = [];
        const n = this.looseInos.get(h.ino) ?? 1;
        if (n > 1) this.looseInos.set(h.ino, n - 1);
        else this.looseInos.delete(h.ino);
        this.handles.delete(h.fd);
        await this.fs.release(h.ino);
      }
    }
  }

  /** The committed attributes with this mount's buffered changes applied: what getattr answers. */
  overlay(st: Stat): Stat {
    let out = this.afterCreates.overlay(this.entries.overlay(st));
    if (st.type === 'dir' && this.createsPending) {
      // a create or mkdir not committed yet changes its directory as its commit will (FsTx.createIn)
      // ...but the times a buffered attribute change of a pending directory set, after all of them (bufferPendingDir)
      const changedAt = this.dirs.get(st.ino)?.attrs?.at(-1)?.time ?? -Infinity;
      for (const c of this.pendingCreates()) {
        if (c.parentIno !== st.ino) continue;
        if (out === st) out = { ...st };
        if (c.inode.ctime > changedAt) out.mtimeMs = out.ctimeMs = Math.max(c.inode.ctime, out.ctimeMs);
        if (c.inode.type === 'dir') out.nlink += 1;
      }
      // and on: a directory's own attribute changes may be buffered too (bufferLoose)
    }
    for (const h of this.handles.values()) {
      if (h.ino !== st.ino || (h.pending.length === 0 && h.inflight.length === 0)) continue;
      if (out === st) out = { ...st };
      // in-flight ops may or may not be in `st` already: applying them again changes nothing
      for (const op of [...h.inflight, ...h.pending]) {
        if (op.kind === 'write') {
          if (op.data.length === 0) continue;
          out.size = Math.max(out.size, op.offset + op.data.length);
          out.mtimeMs = op.time;
          out.ctimeMs = op.time;
        } else {
          const a = op.attr;
          // a truncation (open(O_TRUNC), bufferInto): the writes after it in this list set the size again
          if (a.size !== undefined) out.size = a.size;
          if (a.mode !== undefined) out.mode = (out.mode & ~0o7777) | (a.mode & 0o7777);
          if (a.uid !== undefined && a.uid !== -1) out.uid = a.uid;
          if (a.gid !== undefined && a.gid !== -1) out.gid = a.gid;
          if (a.atime !== undefined) out.atimeMs = a.atime;
          if (a.mtime !== undefined) out.mtimeMs = a.mtime;
          out.ctimeMs = op.time;
        }
      }
      out.blocks = Math.max(out.blocks, Math.ceil(out.size / 512));
    }
    return out;
  }

  /**
   * Commits a handle's buffered changes as one commit. Commits of one handle run one after
   * another, and every caller waits for all changes taken so far — also those a concurrent flush
   * (the 3 s timer, another reader) is still committing. Without that, a stat racing the timer's
   * commit saw the old size (found by fsx).
   */
  flush(h: Handle): Promise<void> {
    // a file made here and not committed yet: committed with the other pending creates
    if (h.create) return this.commitCreatesOrFail();
    const commit = async (): Promise<void> => {
      if (h.pending.length === 0) return;
      // after the creates answered before these changes: no version may show this file changed
      // but not the files made before it (a manifest naming a file that its version lacks). A
      // closed handle is flushed only when dropped, from inside the creates' commit (drop).
      if (this.createsPending && !h.closed) await this.commitCreates();
      const ops = takePending(h);
      const { bytes, attrs, truncated } = describeOps(ops);
      try {
        const notes = `${truncated ? ', truncated first' : ''}${attrs ? ', attributes' : ''}`;
        const summary = bytes > 0 ? `write ${h.path} (${bytes} bytes${notes})` : truncated ? `truncate ${h.path}${attrs ? ' (attributes)' : ''}` : `setattr ${h.path}`;
        await this.transaction(this.fs, summary, async (tx) => {
          tx.batch.touch(h.path); // history(path) finds the commit
          await applyOps(tx, h.ino, ops);
        });
      } finally {
        h.inflight = [];
      }
    };
    const next = h.chain.then(commit, commit);
    h.chain = next.catch(() => {}); // a failed commit is reported to its waiters, not to later flushes
    return next;
  }

  /**
   * At close (FLUSH): a file made here and not committed yet waits up to CLOSED_MS for others to
   * share its commit; anything else is committed now.
   */
  async flushOnClose(h: Handle): Promise<void> {
    // A shell's `>` opens the file (truncating it), puts the descriptor on stdout and closes the
    // first one at once: that FLUSH is not the file's last close, and committing then stored the
    // emptied file as a version of its own before what is written next. The truncation waits for
    // it: RELEASE (the last close), the write-back timer, or a request reading the file commits it.
    if (!h.create) {
      if (h.pending.length > 0 && h.pending.every(isTruncation)) return;
      return this.fsync(h);
    }
    this.closedPending();
  }

  /** Commits (or waits for) the changes of every handle on an inode, before anything reads it. */
  async flushIno(ino: number): Promise<void> {
    for (const h of this.handles.values()) if (h.ino === ino) await this.flush(h);
  }

  async flushPath(path: string): Promise<void> {
    for (const h of this.handles.values()) if (h.path === path) await this.flush(h);
  }

  async flushAll(): Promise<void> {
    await this.commitCreates();
    await this.commitEntries();
    await this.flushLoose();
    for (const h of this.handles.values()) await this.flush(h);
  }

  /**
   * The last close of a handle: committed and forgotten — or, for a file made here and not
   * committed yet, kept until its create is (see flushOnClose); `onCommitted` runs once it is.
   */
  async release(h: Handle, onCommitted?: () => void): Promise<void> {
    // nothing is left to report a failed background commit to: the kernel ignores RELEASE's answer
    const lost = (err: unknown): void => console.error(`timefs fuse: committing what was written to ${h.path} failed; those writes are lost`, err);
    if (h.create) {
      if (h.failed !== undefined) lost(h.failed);
      h.closed = true;
      this.fs.unretain(h.ino); // no process has it open any more (see AgentFs.unretain)
      if (onCommitted) h.onCommitted = onCommitted;
      this.closedPending();
      return;
    }
    try {
      await this.fsync(h);
    } catch (err) {
      lost(err);
      throw err;
    } finally {
      this.handles.delete(h.fd);
      await this.fs.release(h.ino);
    }
    onCommitted?.();
  }

  /** After creates were committed under other names (writeCreate): says so, and keeps handle paths right. */
  private conflicted(renames: Renames): void {
    for (const [from, to] of renames) {
      console.error(`timefs fuse: ${from} was created by another surface before this mount committed its own; the mount's is kept as ${to}`);
      this.renamed(from, to);
    }
  }

  /** Keeps handle paths right after a rename (write-back commits name the file). */
  renamed(from: string, to: string): void {
    for (const h of this.handles.values()) {
      if (h.path === from) h.path = to;
      else if (h.path.startsWith(`${from}/`)) h.path = to + h.path.slice(from.length);
    }
  }
}

/**
 * Paths renamed within one commit because another surface took their name (writeCreate): a
 * directory's new path applies to what is made in it in the same commit.
 */
type Renames = Map<string, string>;

const renamedPath = (path: string, renames: Renames): string => {
  for (const [from, to] of renames) if (path === from || path.startsWith(`${from}/`)) return to + path.slice(from.length);
  return path;
};

/**
 * The name a create made earlier is committed under when another surface took its own name
 * between the mount's answer and the commit: the name, a dot, "conflict-" and the inode number
 * (unique; the name is cut to fit NAME_MAX).
 */
function conflictName(name: string, ino: number): string {
  const suffix = `.conflict-${ino}`;
  let base = name;
  while (Buffer.byteLength(base + suffix) > MAX_NAME_BYTES) base = base.slice(0, -1);
  return base + suffix;
}

/**
 * Writes a create made earlier (createOpen, mkdirLater) in `tx`: its reserved number, owner, mode
 * and time. The mount answered the create when the name was free; should another surface have
 * taken it since (looked up first), the file or directory is written under conflictName()
 * instead — what the mount's programs wrote is never dropped — and `renames` records the new path.
 */
async function writeCreate(tx: FsTx, ino: number, path: string, c: PendingCreate, renames: Renames): Promise<void> {
  const at = renamedPath(path, renames); // slot() touches it: history(path) finds the commit
  const { inode } = c;
  const spec = { type: inode.type, mode: inode.mode, uid: inode.uid, gid: inode.gid, ino, time: inode.ctime };
  // looked up first: a slot at a taken name would touch it, and history() of the other surface's
  // file would list this commit, which does not change it
  if (!(await tx.lookup(c.parentIno, c.name))) {
    await tx.createIn(await tx.slot(c.parentIno, c.name, at), spec);
    return;
  }
  const name = conflictName(c.name, ino);
  const moved = `${at.slice(0, at.length - c.name.length)}${name}`;
  await tx.createIn(await tx.slot(c.parentIno, name, moved), spec);
  renames.set(path, moved);
  tx.batch.meta.summary += `; ${at} was taken meanwhile: kept as ${moved}`; // the log tells where it went
}

/** A file made here, taken for its create's commit with what its handle buffered. */
interface TakenCreate {
  h: Handle;
  ops: PendingOp[];
  create: PendingCreate;
}

/** Writes a file's create and what it buffered (writeCreate, then applyOps). */
async function writeFileCreate(tx: FsTx, { h, ops, create }: TakenCreate, renames: Renames): Promise<void> {
  await writeCreate(tx, h.ino, h.path, create, renames);
  await applyOps(tx, h.ino, ops);
}

/** A directory's buffered attribute changes (tar restoring it), after everything made in it. */
async function restoreDirAttrs(tx: FsTx, d: PendingDir): Promise<void> {
  for (const { attr, time } of d.attrs ?? []) await tx.setattr(d.ino, { ...attr, ctime: time });
}

/** The first three of `items` and how many more (every path is in the commit's touched paths). */
const fewOf = (items: readonly string[]): string => `${items.slice(0, 3).join(', ')}${items.length > 3 ? ` and ${items.length - 3} more` : ''}`;

/** The commit summary for directories made together. */
const mkdirSummary = (dirs: readonly PendingDir[]): string => `mkdir ${fewOf(dirs.map((d) => `${d.path}${d.attrs ? ' (attributes)' : ''}`))}`;

/** Throws (once) why a background commit of the handle failed (see HandleTable.write). */
function reportFailure(h: Handle): void {
  if (h.failed === undefined) return;
  const err = h.failed;
  h.failed = undefined;
  throw err;
}

/** Takes a handle's buffered changes for a commit: they stay visible (overlay) as in flight until it ends. */
function takePending(h: Handle): PendingOp[] {
  const ops = h.pending;
  h.pending = [];
  h.pendingBytes = 0;
  h.inflight = ops;
  return ops;
}

/** A truncation buffered by bufferInto (open(O_TRUNC)); no other buffered attribute change has a size. */
const isTruncation = (op: PendingOp): boolean => op.kind === 'attr' && op.attr.size !== undefined;

/** How many bytes `ops` write and whether they change attributes (for commit summaries). */
function describeOps(ops: readonly PendingOp[]): { bytes: number; attrs: boolean; truncated: boolean } {
  return {
    bytes: ops.reduce((n, op) => n + (op.kind === 'write' ? op.data.length : 0), 0),
    attrs: ops.some((op) => op.kind === 'attr' && !isTruncation(op)),
    truncated: ops.some(isTruncation),
  };
}

/** Writes a handle's buffered changes into `tx`, in order (sequential writes merged). */
async function applyOps(tx: FsTx, ino: number, ops: PendingOp[]): Promise<void> {
  for (const op of coalesce(ops)) {
    if (op.kind === 'write') await tx.writeIno(ino, op.offset, op.data, op.time);
    else await tx.setattr(ino, { ...op.attr, ctime: op.time });
  }
}

/** Merges adjacent sequential writes (the common `cp` pattern) into larger ones; attribute changes keep their place. */
function coalesce(ops: PendingOp[]): PendingOp[] {
  const out: PendingOp[] = [];
  let run: { offset: number; parts: Buffer[]; end: number; time: number } | null = null;
  const close = (): void => {
    if (run) out.push({ kind: 'write', offset: run.offset, data: run.parts.length === 1 ? run.parts[0]! : Buffer.concat(run.parts), time: run.time });
    run = null;
  };
  for (const op of ops) {
    if (op.kind === 'attr') {
      close();
      out.push(op);
    } else if (run && run.end === op.offset && run.end - run.offset < 64 * 1024 * 1024) {
      run.parts.push(op.data);
      run.end += op.data.length;
      run.time = op.time;
    } else {
      close();
      run = { offset: op.offset, parts: [op.data], end: op.offset + op.data.length, time: op.time };
    }
  }
  close();
  return out;
}
