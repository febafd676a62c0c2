import type { AgentFs } from '../fs/agentfs.js';
import type { Version } from '../store/version.js';

/** Buffered writes above this many bytes are committed without waiting for flush. */
const MAX_BUFFERED = 8 * 1024 * 1024;

export interface Handle {
  fd: number;
  ino: number;
  path: string;
  /** set for handles opened through an @version path: read-only, read at that version */
  version?: Version;
  /** writes not yet committed, in order */
  pending: Array<{ offset: number; data: Buffer }>;
  pendingBytes: number;
  /** the handle's commits, in order; awaiting it waits for writes already taken from `pending` */
  chain: Promise<void>;
}

/**
 * Open files of one mount. Writes are buffered per handle and committed as ONE commit at flush,
 * fsync, release — or early when the buffer passes 8 MiB — so `cp` of a big file is a few commits,
 * not one per 4 KiB write. Anything that reads an inode first commits the pending writes to it, so
 * every surface sees what this mount wrote.
 */
export class HandleTable {
  private next = 10;
  private readonly handles = new Map<number, Handle>();

  constructor(private readonly fs: AgentFs) {}

  open(ino: number, path: string, version?: Version): Handle {
    const h: Handle = { fd: this.next++, ino, path, pending: [], pendingBytes: 0, chain: Promise.resolve(), ...(version ? { version } : {}) };
    this.handles.set(h.fd, h);
    this.fs.retain(ino);
    return h;
  }

  get(fd: number): Handle | undefined {
    return this.handles.get(fd);
  }

  async write(h: Handle, offset: number, data: Buffer): Promise<void> {
    h.pending.push({ offset, data: Buffer.from(data) }); // fuse-native reuses its buffer
    h.pendingBytes += data.length;
    if (h.pendingBytes >= MAX_BUFFERED) await this.flush(h);
  }

  /**
   * Commits a handle's pending writes as one commit. Commits of one handle run one after another,
   * and every caller waits for all writes taken so far — also those a concurrent flush (the 3 s
   * timer, another reader) is still committing. Without that, a stat racing the timer's commit
   * saw the old size (found by fsx).
   */
  flush(h: Handle): Promise<void> {
    const commit = async (): Promise<void> => {
      if (h.pending.length === 0) return;
      const writes = h.pending;
      h.pending = [];
      h.pendingBytes = 0;
      const bytes = writes.reduce((n, w) => n + w.data.length, 0);
      await this.fs.transaction(`write ${h.path} (${bytes} bytes)`, async (tx) => {
        for (const w of coalesce(writes)) await tx.writeIno(h.ino, w.offset, w.data);
      });
    };
    const next = h.chain.then(commit, commit);
    h.chain = next.catch(() => {}); // a failed commit is reported to its waiters, not to later flushes
    return next;
  }

  /** Commits (or waits for) writes of every handle on an inode, before anything reads or changes it. */
  async flushIno(ino: number): Promise<void> {
    for (const h of this.handles.values()) if (h.ino === ino) await this.flush(h);
  }

  async flushPath(path: string): Promise<void> {
    for (const h of this.handles.values()) if (h.path === path) await this.flush(h);
  }

  async flushAll(): Promise<void> {
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

/** Merges adjacent sequential writes (the common `cp` pattern) into larger ones. */
function coalesce(writes: Array<{ offset: number; data: Buffer }>): Array<{ offset: number; data: Buffer }> {
  const out: Array<{ offset: number; data: Buffer[]; end: number }> = [];
  for (const w of writes) {
    const last = out[out.length - 1];
    if (last && last.end === w.offset && last.end - last.offset < 64 * 1024 * 1024) {
      last.data.push(w.data);
      last.end += w.data.length;
    } else out.push({ offset: w.offset, data: [w.data], end: w.offset + w.data.length });
  }
  return out.map((o) => ({ offset: o.offset, data: Buffer.concat(o.data) }));
}
