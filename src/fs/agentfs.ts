import { pipeline } from 'node:stream/promises';
import { BlobRef, type LogRecord, type Namespace, type Store, type Version } from '../store/index.js';
import { StoreError } from '../store/errors.js';
import { readVersionOf } from '../store/version.js';
import { agentNamespace, checkAgentName } from './agents.js';
import { diffPath, type DiffResult } from './diff.js';
import { FsError, fromStoreError, fsError } from './errors.js';
import { pathHistory, type HistoryPage } from './history.js';
import { parsePath, type ParsedPath } from './path.js';
import { parseTimeSpec, parseVersionOrTime } from './timespec.js';
import { BlockStager } from './stream.js';
import { decodeRecord, recordKey, type RecordKey } from './records.js';
import { FsTx, type Caller, type CopyCounts, type SetAttr, type TxHost } from './tx.js';
import { FS_FORMAT, type DirEntry, type Stat } from './types.js';
import { formatKey } from './codec.js';
import { FsView } from './view.js';

export interface AgentFsOptions {
  /** Who the commits are attributed to: 'cli', 'fuse', 'webdav', 'tool:Write'… (default 'api') */
  actor?: string;
  /** Owner of new files (default: this process's uid/gid). */
  caller?: Caller;
  /**
   * Head reads may use the head this process knew up to this long ago (ms) instead of asking the
   * engine for other processes' commits on every read (default 0: always ask). This process's own
   * commits are always seen. For surfaces that show older state anyway (FUSE's kernel caches).
   */
  staleHeadMs?: number;
  /**
   * Called with the version of each file-tree commit made through this AgentFs (and the AgentFs
   * values derived from it), as it resolves: how a surface tells its own commits from others'.
   */
  onCommit?: (version: Version) => void;
}

interface Shared {
  store: Store;
  ns: Namespace;
  agent: string;
  /** open handles per inode (FUSE): unlinked-but-open files live until the last release */
  open: Map<number, number>;
}

/** Runs fn, turning store errors into FsErrors with errno codes. */
async function guard<T>(fn: () => Promise<T>, path?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromStoreError(err, path);
  }
}

/** The process's own identity (the default owner of what a non-FUSE surface creates); read once. */
const PROCESS_CALLER: Caller = Object.freeze({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

/**
 * One agent's filesystem: POSIX-shaped, every mutation one commit, every read possible at any
 * version through `path@version`. Adapters (FUSE, WebDAV, tools, CLI) call only this.
 */
export class AgentFs implements TxHost {
  private constructor(
    private readonly shared: Shared,
    private readonly options: AgentFsOptions,
  ) {}

  /** Opens an agent's filesystem; with `create`, makes the agent (namespace + root) if missing. */
  static async open(store: Store, agent: string, options: AgentFsOptions & { create?: boolean } = {}): Promise<AgentFs> {
    checkAgentName(agent);
    const name = agentNamespace(agent);
    let ns: Namespace;
    try {
      ns = options.create ? await store.openOrCreate(name) : await store.namespace(name);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'UNKNOWN_NAMESPACE') {
        throw fsError('ENOENT', `unknown agent '${agent}': create it first (timefs agents create ${agent})`);
      }
      throw fromStoreError(err);
    }
    const fs = new AgentFs({ store, ns, agent, open: new Map() }, options);
    const view = await fs.view();
    if (!(await view.inode(1))) await fs.transaction('create root directory', async (tx) => tx.ensureRoot());
    else {
      const format = await view.reader.get(formatKey);
      const n = format && !(format instanceof BlobRef) ? Number(format.toString()) : 1;
      if (n !== FS_FORMAT) {
        throw fsError(
          'EIO',
          `agent '${agent}' is stored in filesystem format ${n} (${n === 1 ? '256 KiB blocks, ' : ''}an older timefs); this version reads format ${FS_FORMAT}: export it with the timefs that wrote it (timefs export) and import it here`,
        );
      }
    }
    return fs;
  }

  /** The same filesystem with commits attributed to another actor. */
  withActor(actor: string, caller?: Caller): AgentFs {
    return this.withOptions({ actor, ...(caller ? { caller } : {}) });
  }

  /** The same filesystem with some options changed. */
  withOptions(options: AgentFsOptions): AgentFs {
    return new AgentFs(this.shared, { ...this.options, ...options });
  }

  get store(): Store {
    return this.shared.store;
  }
  get ns(): Namespace {
    return this.shared.ns;
  }
  get agent(): string {
    return this.shared.agent;
  }
  get actor(): string {
    return this.options.actor ?? 'api';
  }
  private get caller(): Caller {
    return this.options.caller ?? PROCESS_CALLER;
  }

  // ---- open handles (FUSE) -------------------------------------------------------------------

  isOpen(ino: number): boolean {
    return (this.shared.open.get(ino) ?? 0) > 0;
  }

  retain(ino: number): void {
    this.shared.open.set(ino, (this.shared.open.get(ino) ?? 0) + 1);
  }

  /**
   * Drops a handle on a file whose create is not committed yet (FUSE: one closed before its
   * create's commit): nothing of it is in the store to release, and an unlink committed with its
   * create then removes it at once instead of keeping it for an open handle.
   */
  unretain(ino: number): void {
    const n = (this.shared.open.get(ino) ?? 0) - 1;
    if (n > 0) this.shared.open.set(ino, n);
    else this.shared.open.delete(ino);
  }

  /** Drops a handle; an unlinked file goes when its last handle does. */
  async release(ino: number): Promise<void> {
    const n = (this.shared.open.get(ino) ?? 0) - 1;
    if (n > 0) {
      this.shared.open.set(ino, n);
      return;
    }
    this.shared.open.delete(ino);
    const inode = await (await this.view()).inode(ino);
    if (inode && inode.nlink <= 0 && inode.type !== 'dir') {
      await this.transaction(`release unlinked inode ${ino}`, async (tx) => {
        const cur = await tx.inode(ino);
        if (cur && cur.nlink <= 0 && !this.isOpen(ino)) await tx.destroy(ino, cur);
      });
    }
  }

  /** Makes every change committed so far durable against power loss (what fsync promises). */
  async sync(): Promise<void> {
    await guard(() => this.store.sync());
  }

  // ---- versions ------------------------------------------------------------------------------

  async head(): Promise<Version> {
    return guard(async () => readVersionOf(await this.ns.head()));
  }

  /** The read version at a time: RFC 3339, a date, or "3 days ago" (UTC unless a zone is given). */
  async versionAt(when: string | Date): Promise<Version> {
    const date = when instanceof Date ? when : await parseTimeSpec(when, new Date(this.store.clock()));
    return guard(() => this.ns.versionAt(date));
  }

  /** A version or a time, validated to be readable. */
  async resolveVersion(spec: string): Promise<Version> {
    const v = await parseVersionOrTime(spec, new Date(this.store.clock()));
    const version = 'version' in v ? v.version : await this.versionAt(v.time);
    await this.view(version); // validates: not expired, not from the future
    return version;
  }

  /** A read-only view at a version (default: head). */
  async view(version?: Version): Promise<FsView> {
    return guard(async () => new FsView(await this.ns.snapshot(version, { maxStaleMs: this.options.staleHeadMs ?? 0 }), this.store));
  }

  /** The view a (possibly versioned) path is read at, with the path parsed. */
  async viewFor(path: string, version?: Version): Promise<{ view: FsView; parsed: ParsedPath }> {
    const parsed = parsePath(path);
    let at = version;
    if (parsed.selector) {
      if (version) throw fsError('EINVAL', `'${path}' carries @${parsed.selector.text} and a version was also given: use one`, path);
      at = parsed.selector.kind === 'version' ? parsed.selector.version : await this.versionAt(parsed.selector.date);
    }
    return { view: await this.view(at), parsed };
  }

  // ---- reads ---------------------------------------------------------------------------------

  async stat(path: string, options: { follow?: boolean; version?: Version } = {}): Promise<Stat> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, options.version);
      const r = await view.resolvePath(parsed, options.follow ?? true, path);
      return view.statOf(r.ino, r.inode);
    }, path);
  }

  lstat(path: string, version?: Version): Promise<Stat> {
    return this.stat(path, { follow: false, ...(version ? { version } : {}) });
  }

  async exists(path: string, version?: Version): Promise<boolean> {
    try {
      await this.stat(path, { follow: false, ...(version ? { version } : {}) });
      return true;
    } catch (err) {
      if (err instanceof FsError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return false;
      throw err;
    }
  }

  /** Lists a directory; names are plain (no @version), so copying a listed past tree works. */
  async readdir(path: string, version?: Version): Promise<{ entries: DirEntry[]; version: Version }> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      return { entries: await view.readdir(r.ino, path), version: view.version };
    }, path);
  }

  /** readdir + stat of every entry, and of the directory itself (`self`), at one version. */
  async readdirPlus(path: string, version?: Version): Promise<{ self: Stat; entries: Array<DirEntry & { stat: Stat }>; version: Version }> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      const entries = await view.readdir(r.ino, path);
      const inodes = await view.inodesOf(entries.map((e) => e.ino));
      const out = await Promise.all(entries.map(async (e) => ({ ...e, stat: view.statOf(e.ino, inodes.get(e.ino) ?? (await view.mustInode(e.ino))) })));
      return { self: view.statOf(r.ino, r.inode), entries: out, version: view.version };
    }, path);
  }

  async read(path: string, offset: number, length: number, version?: Version): Promise<Buffer> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      if (r.inode.type === 'dir') throw fsError('EISDIR', `is a directory: ${parsed.path}`, path);
      return view.readContent(r.ino, r.inode, offset, length);
    }, path);
  }

  /** Reads by inode number (FUSE handles: works for open-but-unlinked files too). */
  async readIno(ino: number, offset: number, length: number, version?: Version): Promise<Buffer> {
    return guard(async () => {
      const view = await this.view(version);
      return view.readContent(ino, await view.mustInode(ino), offset, length);
    });
  }

  /**
   * As readIno, as the views of the stored blocks it spans: no buffer of the length is filled and
   * copied (a READ of 128 KiB from a cached 1 MiB chunk). The pieces may share memory with the
   * caches, so they must never be modified — for writing straight out (a FUSE reply).
   */
  async readInoShared(ino: number, offset: number, length: number, version?: Version): Promise<Buffer[]> {
    return guard(async () => {
      const view = await this.view(version);
      const pieces: Buffer[] = [];
      for await (const piece of view.readShared(ino, await view.mustInode(ino), offset, offset + length)) pieces.push(piece);
      return pieces;
    });
  }

  /** A file's stat and its content in pieces, all at one version (path resolved once). */
  async readChunks(path: string, version?: Version): Promise<{ stat: Stat; chunks: AsyncGenerator<Buffer> }> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      if (r.inode.type === 'dir') throw fsError('EISDIR', `is a directory: ${parsed.path}`, path);
      return { stat: view.statOf(r.ino, r.inode), chunks: view.readPieces(r.ino, r.inode) };
    }, path);
  }

  async readFile(path: string, version?: Version): Promise<Buffer> {
    return this.read(path, 0, Number.MAX_SAFE_INTEGER, version);
  }

  async readlink(path: string, version?: Version): Promise<string> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, false, path);
      if (r.inode.type !== 'symlink') throw fsError('EINVAL', `not a symbolic link: ${parsed.path}`, path);
      return r.inode.target ?? '';
    }, path);
  }

  async getxattr(path: string, name: string, version?: Version): Promise<Buffer> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      const v = await view.getxattr(r.ino, name, r.inode);
      if (!v) throw fsError('ENODATA', `no xattr ${name} on ${parsed.path}`, path);
      return v;
    }, path);
  }

  async listxattr(path: string, version?: Version): Promise<string[]> {
    return guard(async () => {
      const { view, parsed } = await this.viewFor(path, version);
      const r = await view.resolvePath(parsed, true, path);
      return view.listxattr(r.ino, r.inode);
    }, path);
  }

  // ---- writes: each call is one commit ---------------------------------------------------------

  /**
   * Runs several operations as one commit. `fn` may be re-run after a conflict with another
   * process, so it must only act through `tx`.
   */
  async transaction<T>(summary: string, fn: (tx: FsTx) => Promise<T>, options: { actor?: string } = {}): Promise<{ value: T; version: Version | null }> {
    return guard(async () => {
      const res = await this.ns.commit({ actor: options.actor ?? this.actor, summary }, async (batch) => {
        const tx = new FsTx(batch, this, this.caller);
        const value = await fn(tx);
        tx.flush();
        return value;
      });
      if (res.version) this.options.onCommit?.(res.version);
      return { value: res.value, version: res.version ? readVersionOf(res.version) : null };
    });
  }

  async writeFile(path: string, data: Buffer | string, options: { mode?: number; parents?: boolean } = {}): Promise<Version | null> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return (
      await this.transaction(`write ${path} (${buf.length} bytes)`, async (tx) => {
        if (options.parents) {
          const parsed = tx.writable(path);
          if (parsed.names.length > 1) await tx.mkdirp(`/${parsed.names.slice(0, -1).join('/')}`);
        }
        return tx.writeFile(path, buf, options.mode ?? 0o644);
      })
    ).version;
  }

  async appendFile(path: string, data: Buffer | string): Promise<Version | null> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return (
      await this.transaction(`append ${path} (${buf.length} bytes)`, async (tx) => {
        const ino = await tx.openFile(path, { create: true });
        const inode = await tx.mustInode(ino);
        await tx.writeIno(ino, inode.size, buf);
      })
    ).version;
  }

  /**
   * Writes a whole file from a stream in one commit; memory use is one block, whatever the size.
   * Fails with EFBIG past `maxBytes`, leaving the file untouched.
   */
  async writeStream(path: string, input: NodeJS.ReadableStream, options: { mode?: number; maxBytes?: number } = {}): Promise<{ version: Version | null; size: number }> {
    parsePath(path); // refuse bad paths before reading any of the body
    const stager = new BlockStager(this.store, options.maxBytes);
    await pipeline(input, stager);
    const res = await this.transaction(`write ${path} (${stager.size} bytes)`, async (tx) => {
      const ino = await tx.openFile(path, { create: true, mode: options.mode ?? 0o644 });
      await tx.setContent(ino, stager.blocks, stager.size);
    });
    return { version: res.version, size: stager.size };
  }

  /** pwrite: writes at an offset of an existing (or new) file. */
  async write(path: string, offset: number, data: Buffer): Promise<Version | null> {
    return (
      await this.transaction(`write ${path} @${offset} (${data.length} bytes)`, async (tx) => {
        const ino = await tx.openFile(path, { create: true });
        await tx.writeIno(ino, offset, data);
      })
    ).version;
  }

  async truncate(path: string, size: number): Promise<Version | null> {
    return (
      await this.transaction(`truncate ${path} to ${size}`, async (tx) => {
        const parsed = tx.writable(path);
        const r = await tx.resolvePath(parsed, true, path);
        await tx.truncateIno(r.ino, size);
      })
    ).version;
  }

  async mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Promise<Version | null> {
    return (
      await this.transaction(`mkdir ${path}`, async (tx) => {
        if (options.recursive) await tx.mkdirp(path, options.mode ?? 0o755);
        else await tx.mkdir(path, options.mode ?? 0o755);
      })
    ).version;
  }

  /** Removes a file or symlink; directories need `recursive` (or are removed when empty with `dir`). */
  async rm(path: string, options: { recursive?: boolean; force?: boolean; dir?: boolean } = {}): Promise<Version | null> {
    try {
      return (
        await this.transaction(`${options.recursive ? 'rm -r' : 'rm'} ${path}`, async (tx) => {
          const parsed = tx.writable(path);
          if (parsed.names.length === 0) throw fsError('EBUSY', 'cannot remove the root directory', path);
          const r = await tx.resolvePath(parsed, false, path);
          if (r.inode.type === 'dir' && !options.recursive) {
            if (options.dir) return tx.rmdir(path);
            throw fsError('EISDIR', `is a directory: ${parsed.path} (delete it recursively to remove its contents)`, path);
          }
          await tx.remove(path, true);
        })
      ).version;
    } catch (err) {
      if (options.force && err instanceof FsError && err.code === 'ENOENT') return null;
      throw err;
    }
  }

  async rename(src: string, dst: string, options: { noReplace?: boolean } = {}): Promise<Version | null> {
    return (await this.transaction(`rename ${src} -> ${dst}`, (tx) => tx.rename(src, dst, options))).version;
  }

  /**
   * Copies a file or tree to head — from head, or from any version (`src@V`, or options.version):
   * the restore primitive. Content is shared, so this writes metadata only. A directory from the
   * past onto its own path is put back as it was (`restored`; see FsTx.copyFrom). `before`: the
   * version the copy was made on, which still holds what the destination held.
   */
  async copy(src: string, dst: string, options: { version?: Version } = {}): Promise<{ version: Version | null; before: Version } & CopyCounts> {
    const { view, parsed } = await this.viewFor(src, options.version);
    const from = parsed.selector || options.version ? `${parsed.path}@${view.version}` : parsed.path;
    const res = await this.transaction(`copy ${from} -> ${dst}`, async (tx) => {
      tx.batch.touch(parsed.path);
      return { before: tx.version, ...(await tx.copyFrom(view, parsed.path, dst)) };
    });
    return { version: res.version, ...res.value };
  }

  async symlink(target: string, path: string): Promise<Version | null> {
    return (await this.transaction(`symlink ${path} -> ${target}`, (tx) => tx.symlink(target, path))).version;
  }

  async link(existing: string, newPath: string): Promise<Version | null> {
    return (await this.transaction(`link ${newPath} -> ${existing}`, (tx) => tx.link(existing, newPath))).version;
  }

  async setattr(path: string, attr: SetAttr, options: { follow?: boolean } = {}): Promise<Version | null> {
    const what = Object.keys(attr).join(',');
    return (
      await this.transaction(`setattr ${path} (${what})`, async (tx) => {
        const parsed = tx.writable(path);
        const r = await tx.resolvePath(parsed, options.follow ?? true, path);
        await tx.setattr(r.ino, attr);
      })
    ).version;
  }

  chmod(path: string, mode: number): Promise<Version | null> {
    return this.setattr(path, { mode });
  }

  chown(path: string, uid: number, gid: number): Promise<Version | null> {
    return this.setattr(path, { uid, gid });
  }

  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<Version | null> {
    return this.setattr(path, { atime: atimeMs, mtime: mtimeMs });
  }

  async setxattr(path: string, name: string, value: Buffer, flags: { create?: boolean; replace?: boolean } = {}): Promise<Version | null> {
    return (
      await this.transaction(`setxattr ${path} ${name}`, async (tx) => {
        const parsed = tx.writable(path);
        const r = await tx.resolvePath(parsed, true, path);
        await tx.setxattr(r.ino, name, value, flags);
      })
    ).version;
  }

  async removexattr(path: string, name: string): Promise<Version | null> {
    return (
      await this.transaction(`removexattr ${path} ${name}`, async (tx) => {
        const parsed = tx.writable(path);
        const r = await tx.resolvePath(parsed, true, path);
        await tx.removexattr(r.ino, name);
      })
    ).version;
  }

  // ---- time travel ---------------------------------------------------------------------------

  /** The versions at which a path (or anything under it) changed, newest first, paginated. */
  async history(path: string, options: { limit?: number; before?: Version } = {}): Promise<HistoryPage> {
    const parsed = parsePath(path);
    return guard(() => pathHistory(this.ns, parsed.path, options), path);
  }

  /** Diff of a path between two versions (`to` defaults to head). */
  async diff(path: string, from: Version, to?: Version): Promise<DiffResult> {
    return guard(async () => {
      const parsed = parsePath(path);
      if (parsed.selector) throw fsError('EINVAL', `give the versions as arguments, not as @${parsed.selector.text} in the path`, path);
      const [a, b] = await Promise.all([this.view(from), this.view(to)]);
      return diffPath(a, b, parsed.names, parsed.path);
    }, path);
  }

  // ---- agent records (outside the file tree; see records.ts) --------------------------------

  /** Writes records as one commit. */
  async putRecords(summary: string, entries: ReadonlyArray<readonly [RecordKey, Buffer]>): Promise<Version | null> {
    return guard(async () => {
      const res = await this.ns.commit({ actor: this.actor, summary }, async (w) => {
        for (const [key, value] of entries) w.set(recordKey(key), value);
      });
      return res.version ? readVersionOf(res.version) : null;
    });
  }

  async getRecord(key: RecordKey, version?: Version): Promise<Buffer | undefined> {
    return guard(async () => decodeRecord(await (await this.ns.snapshot(version)).get(recordKey(key))));
  }

  /** Records under a key prefix, in key order: [key without the prefix's 'rec', value]. */
  async listRecords(prefix: RecordKey, version?: Version): Promise<Array<{ key: Array<string | number>; value: Buffer }>> {
    return guard(async () =>
      (await (await this.ns.snapshot(version)).list(recordKey(prefix))).map((e) => ({ key: (e.key as Array<string | number>).slice(1), value: decodeRecord(e.value) ?? Buffer.alloc(0) })),
    );
  }

  /** The commit log (files and everything else), newest first. */
  async log(options: { limit?: number; before?: Version; after?: Version; since?: Date } = {}): Promise<LogRecord[]> {
    return guard(() => this.ns.log(options));
  }
}
