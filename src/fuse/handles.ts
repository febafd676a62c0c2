import type { AgentFs } from '../fs/agentfs.js';
import type { SetAttr } from '../fs/tx.js';
import type { Stat } from '../fs/types.js';
import type { Version } from '../store/version.js';

/** Buffered writes above this many bytes are committed without waiting for flush. */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** A loose attribute change (see bufferLoose) is committed at the latest this long after it was made (ms). */
const LOOSE_MS = 20;

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
  /** the handle's commits, in order; awaiting it waits for changes already taken from `pending` */
  chain: Promise<void>;
}

/**
 * Open files of one mount, with write-back. Writes — and attribute changes made while a file is
 * open for writing (tar's fchown/fchmod/futimens after writing) — are buffered per handle and
 * committed as ONE commit, in order, at flush, fsync, release, every 3 s (mount.ts), or early past
 * 8 MiB; each keeps the time it was made, so an mtime set after writing survives the commit.
 *
 * Invariants: what this mount reports never depends on whether a change was committed yet —
 * getattr applies the buffered changes to the committed attributes (overlay), and anything that
 * reads or changes content in other ways commits them first (flushIno/flushPath).
 */
export class HandleTable {
  private next = 10;
  private readonly handles = new Map<number, Handle>();
  /** the internal handle holding the loose attribute changes of one inode (see bufferLoose) */
  private loose: Handle | null = null;
  private looseTimer: NodeJS.Timeout | undefined;
  /** loose changes being committed; settles once all of them are (never rejects) */
  private looseFlush: Promise<void> | null = null;

  constructor(
    private readonly fs: AgentFs,
    private readonly clock: () => number = () => fs.store.clock(),
  ) {}

  open(ino: number, path: string, options: { writable: boolean; version?: Version }): Handle {
    const h: Handle = { fd: this.next++, ino, path, writable: options.writable && !options.version, pending: [], inflight: [], pendingBytes: 0, chain: Promise.resolve(), ...(options.version ? { version: options.version } : {}) };
    this.handles.set(h.fd, h);
    this.fs.retain(ino);
    return h;
  }

  get(fd: number): Handle | undefined {
    return this.handles.get(fd);
  }

  /** Buffers a write; `data` must be the caller's own copy (both drivers reuse request buffers). */
  async write(h: Handle, offset: number, data: Buffer): Promise<void> {
    h.pending.push({ kind: 'write', offset, data, time: this.clock() });
    h.pendingBytes += data.length;
    if (h.pendingBytes >= MAX_BUFFERED) await this.flush(h);
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
    for (const h of this.handles.values()) if (h !== target && h.ino === target.ino) await this.flush(h);
    target.pending.push({ kind: 'attr', attr, time: this.clock() });
    return true;
  }

  /**
   * Buffers an attribute change of an inode that no handle here is writing: tar sets each
   * directory's owner, mode and times in three requests after extracting its files, and they
   * become one commit. Only one inode's changes are loose at a time; a change to another inode
   * commits them first, and so does a timer LOOSE_MS later. The caller must also commit them
   * (looseBarrier) before any request that could observe the inode other than through the
   * overlay — the kernel driver does so for every request but getattr, lookup and setattr.
   */
  async bufferLoose(ino: number, path: string, attr: SetAttr): Promise<void> {
    while (this.loose && this.loose.ino !== ino) await this.flushLoose();
    if (!this.loose) {
      this.loose = this.open(ino, path, { writable: true });
      this.looseTimer = setTimeout(() => void this.flushLoose(), LOOSE_MS);
    }
    this.loose.pending.push({ kind: 'attr', attr, time: this.clock() });
  }

  /** Commits the loose changes; resolves when every loose change so far is committed. */
  flushLoose(): Promise<void> {
    const h = this.loose;
    if (h) {
      this.loose = null;
      clearTimeout(this.looseTimer);
      // the requests that made these changes were answered already: a failure can only be logged
      const done = this.release(h).catch((err: unknown) => console.error(`timefs fuse: committing attribute changes of ${h.path} failed`, err));
      const all: Promise<void> = Promise.all([this.looseFlush, done]).then(() => {
        if (this.looseFlush === all) this.looseFlush = null;
      });
      this.looseFlush = all;
    }
    return this.looseFlush ?? Promise.resolve();
  }

  /** null when no loose change is buffered or being committed (no need to wait); else flushLoose(). */
  looseBarrier(): Promise<void> | null {
    return this.loose || this.looseFlush ? this.flushLoose() : null;
  }

  /** The committed attributes with this mount's buffered changes applied: what getattr answers. */
  overlay(st: Stat): Stat {
    let out = st;
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
    const commit = async (): Promise<void> => {
      if (h.pending.length === 0) return;
      const ops = h.pending;
      h.pending = [];
      h.pendingBytes = 0;
      const bytes = ops.reduce((n, op) => n + (op.kind === 'write' ? op.data.length : 0), 0);
      const attrs = ops.some((op) => op.kind === 'attr');
      h.inflight = ops;
      try {
        const summary = bytes === 0 && attrs ? `setattr ${h.path}` : `write ${h.path} (${bytes} bytes${attrs ? ', attributes' : ''})`;
        await this.fs.transaction(summary, async (tx) => {
          tx.batch.touch(h.path); // history(path) finds the commit
          for (const op of coalesce(ops)) {
            if (op.kind === 'write') await tx.writeIno(h.ino, op.offset, op.data, op.time);
            else await tx.setattr(h.ino, { ...op.attr, ctime: op.time });
          }
        });
      } finally {
        h.inflight = [];
      }
    };
    const next = h.chain.then(commit, commit);
    h.chain = next.catch(() => {}); // a failed commit is reported to its waiters, not to later flushes
    return next;
  }

  /** Commits (or waits for) the changes of every handle on an inode, before anything reads it. */
  async flushIno(ino: number): Promise<void> {
    for (const h of this.handles.values()) if (h.ino === ino) await this.flush(h);
  }

  async flushPath(path: string): Promise<void> {
    for (const h of this.handles.values()) if (h.path === path) await this.flush(h);
  }

  async flushAll(): Promise<void> {
    await this.flushLoose();
    for (const h of this.handles.values()) await this.flush(h);
  }

  async release(h: Handle): Promise<void> {
    try {
      await this.flush(h);
    } finally {
      this.handles.delete(h.fd);
      await this.fs.release(h.ino);
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
