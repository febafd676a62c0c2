import { Readable } from 'node:stream';
import type { AgentFs } from '../fs/agentfs.js';
import { parentOf, parsePath } from '../fs/path.js';
import type { Stat } from '../fs/types.js';
import { toDavError } from './errors.js';
import { LockTable } from './locks.js';
import { etagOf } from './propfind.js';
import {
  dav,
  type CopyInfo,
  type CreateInfo,
  type DeleteInfo,
  type ETagInfo,
  type ILockManager,
  type IPropertyManager,
  type LastModifiedDateInfo,
  type LockManagerInfo,
  type MoveInfo,
  type OpenReadStreamInfo,
  type Path,
  type PropertyManagerInfo,
  type ReadDirInfo,
  type RequestContext,
  type ResourceType,
  type SizeInfo,
  type TypeInfo,
  type CreationDateInfo,
} from './lib.js';

const { FileSystem, ResourceType: RT, LocalLockManager, LocalPropertyManager, Errors } = dav;

type Cb<T> = (error?: Error, value?: T) => void;

/**
 * One agent's filesystem as a webdav-server v2 FileSystem. Every operation goes through AgentFs, so
 * `@version` paths work (read-only), every change is a commit attributed to 'webdav', and MOVE,
 * COPY, DELETE and PUT are each exactly one commit.
 */
export class AgentDavFileSystem extends FileSystem {
  /** stat() results per request: one PROPFIND asks type/size/mtime/etag… of each resource. */
  private readonly statCache = new WeakMap<RequestContext, Map<string, Promise<Stat>>>();

  /** WebDAV locks of this agent (ours, see locks.ts; the library's lock managers stay empty). */
  readonly lockTable = new LockTable();

  constructor(readonly fs: AgentFs) {
    super(new NoSerializer());
  }

  private statOf(ctx: RequestContext, path: Path): Promise<Stat> {
    let cache = this.statCache.get(ctx);
    if (!cache) this.statCache.set(ctx, (cache = new Map()));
    const key = path.toString();
    let hit = cache.get(key);
    if (!hit) {
      hit = this.fs.stat(key);
      cache.set(key, hit);
      hit.catch(() => cache!.delete(key));
    }
    return hit;
  }

  /** Forgets cached stats of a request after it changed something. */
  private invalidate(ctx: RequestContext): void {
    this.statCache.delete(ctx);
  }

  private run<T>(p: Promise<T>, cb: Cb<T>): void {
    p.then((v) => cb(undefined, v), (e: unknown) => cb(toDavError(e)));
  }

  protected override _fastExistCheck(ctx: RequestContext, path: Path, callback: (exists: boolean) => void): void {
    this.statOf(ctx, path).then(() => callback(true), () => callback(false));
  }

  protected override _type(path: Path, ctx: TypeInfo, callback: Cb<ResourceType>): void {
    this.run(this.statOf(ctx.context, path).then((st) => (st.type === 'dir' ? RT.Directory : RT.File)), callback);
  }

  protected override _size(path: Path, ctx: SizeInfo, callback: Cb<number>): void {
    this.run(this.statOf(ctx.context, path).then((st) => st.size), callback);
  }

  protected override _lastModifiedDate(path: Path, ctx: LastModifiedDateInfo, callback: Cb<number>): void {
    this.run(this.statOf(ctx.context, path).then((st) => Math.floor(st.mtimeMs)), callback);
  }

  protected override _creationDate(path: Path, ctx: CreationDateInfo, callback: Cb<number>): void {
    this.run(this.statOf(ctx.context, path).then((st) => Math.floor(st.ctimeMs)), callback);
  }

  /** Changes whenever content or metadata change (ctime moves on every change). */
  protected override _etag(path: Path, ctx: ETagInfo, callback: Cb<string>): void {
    this.run(this.statOf(ctx.context, path).then((st) => etagOf(st)), callback);
  }

  protected override _readDir(path: Path, ctx: ReadDirInfo, callback: Cb<string[]>): void {
    this.run(this.fs.readdir(path.toString()).then((r) => r.entries.map((e) => e.name)), callback);
  }

  protected override _create(path: Path, ctx: CreateInfo, callback: (e?: Error) => void): void {
    const p = path.toString();
    // PUT (which creates files) and LOCK on an unmapped URL are served by handler.ts / locks.ts, so
    // the library creates only collections (MKCOL); an empty file is still created correctly.
    const op = ctx.type.isDirectory
      ? this.fs.transaction(`MKCOL ${p}`, (tx) => tx.mkdir(p, 0o755))
      : this.fs.transaction(`create ${p}`, (tx) => tx.openFile(p, { create: true, exclusive: true }));
    op.then(() => {
      this.invalidate(ctx.context);
      callback();
    }, (e: unknown) => callback(toDavError(e)));
  }

  protected override _delete(path: Path, ctx: DeleteInfo, callback: (e?: Error) => void): void {
    this.fs.transaction(`DELETE ${path.toString()}`, (tx) => tx.remove(path.toString(), true)).then(() => {
      this.invalidate(ctx.context);
      callback();
    }, (e: unknown) => callback(toDavError(e)));
  }

  /** Reached only for a GET with an If: header (handler.ts serves the others); one version throughout. */
  protected override _openReadStream(path: Path, ctx: OpenReadStreamInfo, callback: Cb<Readable>): void {
    this.fs.readChunks(path.toString()).then(
      ({ chunks }) => callback(undefined, Readable.from(chunks)),
      (e: unknown) => callback((e as { code?: string }).code === 'EISDIR' ? Errors.ExpectedAFileResourceType : toDavError(e)),
    );
  }

  /** 409 Conflict when the destination's parent collection does not exist (RFC 4918 §9.8.5, §9.9.4). */
  private async destinationParentExists(dst: string): Promise<void> {
    const parent = await this.fs.stat(parentOf(parsePath(dst).path)).catch(() => null);
    if (parent?.type !== 'dir') {
      throw Object.assign(new Error('missing parent'), { dav: Errors.IntermediateResourceMissing });
    }
  }

  /** MOVE: one commit, replacing the destination when allowed. */
  protected override _move(from: Path, to: Path, ctx: MoveInfo, callback: Cb<boolean>): void {
    const src = from.toString();
    const dst = to.toString();
    this.run(
      this.destinationParentExists(dst)
        .then(() => this.fs.transaction(`MOVE ${src} -> ${dst}`, async (tx) => {
          const existing = await tx.resolve(parsePath(dst).names, false).catch(() => null);
          if (existing && !ctx.overwrite) throw Object.assign(new Error('exists'), { dav: Errors.ResourceAlreadyExists });
          if (existing) await tx.remove(dst, true);
          await tx.rename(src, dst);
          return existing !== null;
        }))
        .then((r) => {
          this.invalidate(ctx.context);
          return r.value;
        })
        .catch((e: unknown) => {
          throw (e as { dav?: Error }).dav ?? e;
        }),
      callback,
    );
  }

  /** COPY: one commit; from a versioned source it is the restore. Depth 0 copies a collection without members. */
  protected override _copy(from: Path, to: Path, ctx: CopyInfo, callback: Cb<boolean>): void {
    const src = from.toString();
    const dst = to.toString();
    this.run(
      (async () => {
        await this.destinationParentExists(dst);
        const { view, parsed } = await this.fs.viewFor(src);
        const res = await this.fs.transaction(`COPY ${src} -> ${dst}`, async (tx) => {
          const existing = await tx.resolve(parsePath(dst).names, false).catch(() => null);
          if (existing && !ctx.overwrite) throw Object.assign(new Error('exists'), { dav: Errors.ResourceAlreadyExists });
          if (existing) await tx.remove(dst, true);
          const source = await view.resolve(parsed.names, false, src);
          if (source.inode.type === 'dir' && ctx.depth === 0) await tx.mkdir(dst, source.inode.mode);
          else await tx.copyFrom(view, parsed.path, dst);
          return existing !== null;
        });
        this.invalidate(ctx.context);
        return res.value;
      })().catch((e: unknown) => {
        throw (e as { dav?: Error }).dav ?? e;
      }),
      callback,
    );
  }

  /** Locking is ours (LockTable); the library only ever sees empty lock managers. */
  protected override _lockManager(path: Path, ctx: LockManagerInfo, callback: Cb<ILockManager>): void {
    callback(undefined, new LocalLockManager());
  }

  /** Dead properties are handled by our PROPFIND/PROPPATCH (xattrs); the library sees none. */
  protected override _propertyManager(path: Path, ctx: PropertyManagerInfo, callback: Cb<IPropertyManager>): void {
    callback(undefined, new LocalPropertyManager());
  }

}

/** The filesystem lives in the store; webdav-server's own save/load of trees does not apply. */
class NoSerializer {
  uid(): string {
    return 'timefs-agent-1';
  }
  serialize(_fs: unknown, callback: Cb<unknown>): void {
    callback(undefined, {});
  }
  unserialize(_data: unknown, callback: Cb<InstanceType<typeof FileSystem>>): void {
    callback(new Error('timefs filesystems are not serialized by webdav-server'));
  }
}
