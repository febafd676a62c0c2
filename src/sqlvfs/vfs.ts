import { SyncNamespace, type CommitMeta, type Version } from '../store/index.js';
import { BlobRef, StoreError, readVersionOf } from '../store/index.js';
import { KvBusyError } from '../kv/types.js';
import { C } from './constants.js';
import { PAGE_SIZE, decodePage, encodePage } from './pages.js';

/** What a main database file is bound to: a namespace, and a fixed version for past (read-only) views. */
export interface FileBinding {
  space: SyncNamespace;
  /** read-only at this version; undefined = head, read-write */
  at?: Version;
  /** attribution of the next commit (set per statement by the Database) */
  commit: CommitMeta;
  /** called after each commit with its version */
  onCommit?: (v: Version) => void;
}

interface MainFile {
  kind: 'main';
  binding: FileBinding;
  /** the read snapshot of the current SQLite transaction (taken at the SHARED lock) */
  snap: { version: Version; headRaw: Buffer } | null;
  dirty: Map<number, Uint8Array>;
  /** file size as SQLite sees it in this transaction */
  size: number | null;
  /** size at the snapshot (pages past a truncation are deleted at commit) */
  baseSize: number;
  /** the head record baseSize was read at: a new transaction on an unchanged head reuses it */
  sizeAt: Buffer | null;
  /** pages this connection read or wrote, valid while the head is still `sizeAt` */
  known: Map<number, Uint8Array>;
  lock: number;
}

interface MemFile {
  kind: 'mem';
  name: string;
  data: Uint8Array;
  size: number;
  deleteOnClose: boolean;
}

const SIZE_KEY = SyncNamespace.pack(['size']);
const PAGE_CACHE_ENTRIES = 2048; // 8 MiB
/** pages remembered per connection between transactions (SQLite's own cache holds the rest) */
const KNOWN_PAGES = 64;
const packedPages: Buffer[] = [];
/** page keys, packed once each (tuple packing costs more than the kv seek) */
const pageKey = (i: number): Buffer => (packedPages[i] ??= SyncNamespace.pack(['p', i]));

/** Calls fn for each page a byte range touches: (page index, offset in page, bytes, offset in range). */
function forEachPage(offset: number, length: number, fn: (i: number, within: number, n: number, done: number) => void): void {
  for (let done = 0; done < length; ) {
    const off = offset + done;
    const i = Math.floor(off / PAGE_SIZE);
    const within = off - i * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - within, length - done);
    fn(i, within, n, done);
    done += n;
  }
}

/**
 * SQLite's VFS on the versioned store (the mvSQLite design). Invariants:
 *  - the main database file's pages live in the bound namespace, page i at key ('p', i), deflated;
 *    its size at ('size'). Journals and temp files live in memory.
 *  - writes to the main file are buffered per connection and reach the store in ONE commit — at
 *    COMMIT_ATOMIC_WRITE (the batch-atomic path SQLite takes when the transaction fits in its
 *    cache) or at xSync (the journal path). A crash anywhere leaves the old or the new state, never
 *    a mix, so the in-memory journal is never needed after a crash.
 *  - each SQLite transaction reads one snapshot, taken when it acquires its SHARED lock; a
 *    connection opened at a past version always reads that version and cannot write.
 *  - writers are optimistic: taking RESERVED on a stale snapshot, or committing after someone else
 *    did, answers SQLITE_BUSY (the transaction is retried), so no update is ever lost.
 */
export class StoreVfs {
  readonly name = 'timefs';
  readonly mxPathName = 64;
  private readonly bindings = new Map<string, FileBinding>();
  private readonly files = new Map<number, MainFile | MemFile>();
  private readonly mem = new Map<string, MemFile>();
  /** decoded pages by stored key, oldest first (SQLite keeps its own cache; this one saves the inflate) */
  private readonly pageCache = new Map<string, Uint8Array>();
  /** which file holds RESERVED per namespace: one writer per database in this process */
  private readonly writers = new Map<number, number>();

  bind(name: string, binding: FileBinding): void {
    this.bindings.set(name, binding);
  }

  unbind(name: string): void {
    this.bindings.delete(name);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private readPage(f: MainFile, i: number): Uint8Array | undefined {
    const d = f.dirty.get(i) ?? f.known.get(i);
    if (d) return d;
    const row = f.binding.space.getStored(pageKey(i), this.readVersion(f));
    if (row === undefined || row.value instanceof BlobRef) return undefined;
    // a stored key (page + commit stamp) never changes its content: cache decoded pages by it
    const id = row.stored.toString('latin1');
    let page = this.pageCache.get(id);
    if (!page) {
      page = decodePage(row.value);
      this.pageCache.set(id, page);
      if (this.pageCache.size > PAGE_CACHE_ENTRIES) this.pageCache.delete(this.pageCache.keys().next().value as string);
    }
    if (f.sizeAt && f.known.size < KNOWN_PAGES) f.known.set(i, page);
    return page;
  }

  private readVersion(f: MainFile): Version {
    if (f.binding.at) return f.binding.at;
    if (!f.snap) this.takeSnapshot(f); // reads outside a lock (SQLite does this for the header)
    return f.snap!.version;
  }

  private takeSnapshot(f: MainFile): void {
    if (f.binding.at) {
      f.snap = { version: f.binding.at, headRaw: Buffer.alloc(0) };
    } else {
      const meta = f.binding.space.meta();
      f.snap = { version: readVersionOf(meta.head!), headRaw: meta.headRaw! };
    }
    // a past version never changes, so its size and pages stay valid for the connection's life
    if (!f.sizeAt || (!f.binding.at && !f.sizeAt.equals(f.snap.headRaw))) {
      f.known.clear();
      const raw = f.binding.space.get(SIZE_KEY, f.snap.version);
      f.baseSize = raw && !(raw instanceof BlobRef) ? Number(raw.toString()) : 0;
      f.sizeAt = f.snap.headRaw;
    }
    f.size = null;
  }

  private fileSize(f: MainFile): number {
    if (f.size !== null) return f.size;
    if (!f.snap) this.takeSnapshot(f);
    return f.baseSize;
  }

  /** Commits the dirty pages as one store version. Returns an SQLite result code. */
  private commit(f: MainFile): number {
    if (f.dirty.size === 0 && f.size === null) return C.OK;
    if (f.binding.at) return C.READONLY;
    if (!f.snap) return C.IOERR;
    const size = this.fileSize(f);
    const writes: Array<readonly [Buffer, Buffer | null]> = [];
    for (const [i, page] of f.dirty) if (i * PAGE_SIZE < size) writes.push([pageKey(i), encodePage(page)]);
    const pages = Math.ceil(size / PAGE_SIZE);
    for (let i = pages; i < Math.ceil(f.baseSize / PAGE_SIZE); i++) writes.push([pageKey(i), null]);
    if (size !== f.baseSize) writes.push([SIZE_KEY, Buffer.from(String(size))]);
    try {
      const { version, headRaw } = f.binding.space.commit(f.snap.headRaw, f.binding.commit, writes);
      // what we wrote is what the new head holds
      for (const [i, page] of f.dirty) {
        f.known.delete(i); // never leave an older copy behind, even when there is no room for the new one
        if (i * PAGE_SIZE < size && f.known.size < KNOWN_PAGES) f.known.set(i, page);
      }
      for (const i of [...f.known.keys()]) if (i * PAGE_SIZE >= size) f.known.delete(i);
      f.dirty.clear();
      f.size = null;
      // the transaction goes on (SQLite may keep its lock): read our own commit from now on
      f.snap = { version, headRaw };
      f.baseSize = size;
      f.sizeAt = headRaw;
      f.binding.onCommit?.(version);
      return C.OK;
    } catch (err) {
      if (err instanceof KvBusyError || (err instanceof StoreError && err.code === 'CONFLICT')) return C.BUSY;
      return C.IOERR;
    }
  }

  // ---- the VFS methods SQLite calls ---------------------------------------------------------

  xOpen(name: string | null, fileId: number, flags: number, pOutFlags: DataView): number {
    const binding = name ? this.bindings.get(name) : undefined;
    if (binding && flags & C.OPEN_MAIN_DB) {
      this.files.set(fileId, { kind: 'main', binding, snap: null, dirty: new Map(), size: null, baseSize: 0, sizeAt: null, known: new Map(), lock: C.LOCK_NONE });
      pOutFlags.setInt32(0, binding.at ? (flags & ~C.OPEN_READWRITE) | C.OPEN_READONLY : flags, true);
      return C.OK;
    }
    const key = name ?? `temp-${fileId}`;
    let file = this.mem.get(key);
    if (!file) {
      if (!(flags & C.OPEN_CREATE)) return C.CANTOPEN;
      file = { kind: 'mem', name: key, data: new Uint8Array(0), size: 0, deleteOnClose: !name || (flags & C.OPEN_DELETEONCLOSE) !== 0 };
      this.mem.set(key, file);
    }
    this.files.set(fileId, file);
    pOutFlags.setInt32(0, flags, true);
    return C.OK;
  }

  xClose(fileId: number): number {
    const f = this.files.get(fileId);
    this.files.delete(fileId);
    if (f?.kind === 'mem' && f.deleteOnClose) this.mem.delete(f.name);
    if (f?.kind === 'main' && this.writers.get(f.binding.space.ns.id) === fileId) this.writers.delete(f.binding.space.ns.id);
    return C.OK;
  }

  xRead(fileId: number, pData: Uint8Array, iOffset: number): number {
    const f = this.files.get(fileId);
    if (!f) return C.IOERR;
    if (f.kind === 'mem') {
      const n = Math.max(0, Math.min(pData.length, f.size - iOffset));
      if (n > 0) pData.set(f.data.subarray(iOffset, iOffset + n));
      if (n < pData.length) {
        pData.fill(0, n);
        return C.IOERR_SHORT_READ;
      }
      return C.OK;
    }
    try {
      const size = this.fileSize(f);
      forEachPage(iOffset, pData.length, (i, within, n, done) => {
        const page = i * PAGE_SIZE + within < size ? this.readPage(f, i) : undefined;
        if (page) pData.set(page.subarray(within, within + n), done);
        else pData.fill(0, done, done + n);
      });
      return iOffset + pData.length > size ? C.IOERR_SHORT_READ : C.OK;
    } catch {
      return C.IOERR;
    }
  }

  xWrite(fileId: number, pData: Uint8Array, iOffset: number): number {
    const f = this.files.get(fileId);
    if (!f) return C.IOERR;
    if (f.kind === 'mem') {
      const end = iOffset + pData.length;
      if (end > f.data.length) {
        const grown = new Uint8Array(Math.max(end, f.data.length * 2));
        grown.set(f.data.subarray(0, f.size));
        f.data = grown;
      }
      f.data.set(pData, iOffset);
      f.size = Math.max(f.size, end);
      return C.OK;
    }
    if (f.binding.at) return C.READONLY;
    try {
      forEachPage(iOffset, pData.length, (i, within, n, done) => {
        const page = new Uint8Array(PAGE_SIZE);
        if (n < PAGE_SIZE) {
          // a partial page write keeps the rest of the page
          const old = i * PAGE_SIZE < this.fileSize(f) ? this.readPage(f, i) : undefined;
          if (old) page.set(old);
        }
        page.set(pData.subarray(done, done + n), within);
        f.dirty.set(i, page);
      });
      f.size = Math.max(this.fileSize(f), iOffset + pData.length);
      return C.OK;
    } catch {
      return C.IOERR;
    }
  }

  xTruncate(fileId: number, iSize: number): number {
    const f = this.files.get(fileId);
    if (!f) return C.IOERR;
    if (f.kind === 'mem') {
      f.size = Math.min(f.size, iSize);
      return C.OK;
    }
    if (f.binding.at) return C.READONLY;
    for (const i of [...f.dirty.keys()]) if (i * PAGE_SIZE >= iSize) f.dirty.delete(i);
    f.size = iSize;
    return C.OK;
  }

  xSync(fileId: number): number {
    const f = this.files.get(fileId);
    if (f?.kind !== 'main') return C.OK;
    return this.commit(f);
  }

  xFileSize(fileId: number, pSize64: DataView): number {
    const f = this.files.get(fileId);
    if (!f) return C.IOERR;
    const size = f.kind === 'mem' ? f.size : this.fileSize(f);
    pSize64.setBigInt64(0, BigInt(size), true);
    return C.OK;
  }

  xLock(fileId: number, flags: number): number {
    const f = this.files.get(fileId);
    if (f?.kind !== 'main') return C.OK;
    try {
      if (f.lock === C.LOCK_NONE && flags >= C.LOCK_SHARED) this.takeSnapshot(f);
      if (flags >= C.LOCK_RESERVED && f.lock < C.LOCK_RESERVED) {
        if (f.binding.at) return C.READONLY;
        const nsId = f.binding.space.ns.id;
        const holder = this.writers.get(nsId);
        if (holder !== undefined && holder !== fileId) return C.BUSY;
        // a writer must start from the newest state, or its commit would be lost or conflict
        if (!f.binding.space.meta().headRaw!.equals(f.snap!.headRaw)) return C.BUSY;
        this.writers.set(nsId, fileId);
      }
      f.lock = flags;
      return C.OK;
    } catch {
      return C.IOERR;
    }
  }

  xUnlock(fileId: number, flags: number): number {
    const f = this.files.get(fileId);
    if (f?.kind !== 'main') return C.OK;
    if (flags < C.LOCK_RESERVED && this.writers.get(f.binding.space.ns.id) === fileId) this.writers.delete(f.binding.space.ns.id);
    if (flags === C.LOCK_NONE) {
      f.snap = null;
      f.dirty.clear();
      f.size = null;
    }
    f.lock = flags;
    return C.OK;
  }

  xCheckReservedLock(fileId: number, pResOut: DataView): number {
    const f = this.files.get(fileId);
    const held = f?.kind === 'main' && this.writers.has(f.binding.space.ns.id) && this.writers.get(f.binding.space.ns.id) !== fileId;
    pResOut.setInt32(0, held ? 1 : 0, true);
    return C.OK;
  }

  xFileControl(fileId: number, op: number): number {
    const f = this.files.get(fileId);
    if (f?.kind !== 'main') return C.NOTFOUND;
    switch (op) {
      case C.FCNTL_BEGIN_ATOMIC_WRITE:
        return f.binding.at ? C.READONLY : C.OK;
      case C.FCNTL_COMMIT_ATOMIC_WRITE:
        return this.commit(f);
      case C.FCNTL_ROLLBACK_ATOMIC_WRITE:
        f.dirty.clear();
        f.size = null;
        return C.OK;
      default:
        return C.NOTFOUND;
    }
  }

  xSectorSize(): number {
    return PAGE_SIZE;
  }

  xDeviceCharacteristics(): number {
    return C.IOCAP_BATCH_ATOMIC | C.IOCAP_SAFE_APPEND | C.IOCAP_SEQUENTIAL | C.IOCAP_UNDELETABLE_WHEN_OPEN | C.IOCAP_POWERSAFE_OVERWRITE;
  }

  xDelete(name: string): number {
    this.mem.delete(name);
    return C.OK;
  }

  xAccess(name: string, _flags: number, pResOut: DataView): number {
    pResOut.setInt32(0, this.mem.has(name) || this.bindings.has(name) ? 1 : 0, true);
    return C.OK;
  }
}
