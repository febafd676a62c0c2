import fs from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from '../errors.js';
import { HASH_RE, type BlobInfo, type BlobStore } from './types.js';

/**
 * Chunks as files under a directory, fanned out by the first two bytes of the hash:
 * `<dir>/ab/cd/abcd…`. A put writes a temporary file and renames it into place, so a reader never
 * sees a partial chunk and a crash leaves at most a stray temp file; durability comes from sync()
 * (a group fsync) before the commit that references the chunks (unless `fsync: false`).
 */
export class DirBlobStore implements BlobStore {
  readonly kind = 'dir';
  private tmpCounter = 0;

  constructor(
    readonly root: string,
    private readonly options: { fsync?: boolean } = {},
  ) {}

  private pathOf(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error(`invalid blob hash ${JSON.stringify(hash)}`);
    return path.join(this.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  /** fan-out directories known to exist (saves a mkdir -p per chunk) */
  private readonly dirs = new Set<string>();

  /**
   * Always writes: a chunk that already exists is replaced by identical bytes, which also gives it a
   * fresh mtime for the GC grace period (cheaper than probing for it first).
   */
  async put(hash: string, data: Buffer): Promise<void> {
    const file = this.pathOf(hash);
    const dir = path.dirname(file);
    if (!this.dirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    const tmp = `${file}.tmp-${process.pid}-${this.tmpCounter++}`;
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
    if (this.options.fsync !== false) this.unsynced.add(file);
  }

  /** chunks written but not yet fsynced; sync() makes them durable in one parallel batch */
  private unsynced = new Set<string>();

  /**
   * Group fsync: every chunk written since the last sync, in parallel, then their directories (so
   * the renames are durable too). The store calls this before committing, so a durable commit never
   * references a chunk that a power loss could take away — at a fraction of one fsync per chunk.
   */
  async sync(): Promise<void> {
    if (this.unsynced.size === 0) return;
    const files = [...this.unsynced];
    this.unsynced = new Set();
    const fsyncPath = async (p: string): Promise<void> => {
      const h = await fs.open(p, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    };
    for (let i = 0; i < files.length; i += 32) await Promise.all(files.slice(i, i + 32).map(fsyncPath));
    await Promise.all([...new Set(files.map((f) => path.dirname(f)))].map(fsyncPath));
  }

  async get(hash: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.pathOf(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StoreError('BLOB_MISSING', `chunk ${hash} is missing from the blob directory ${this.root}`);
      }
      throw err;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    const level = async (dir: string): Promise<string[]> => {
      try {
        return (await fs.readdir(dir)).sort();
      } catch {
        return [];
      }
    };
    for (const a of await level(this.root)) {
      for (const b of await level(path.join(this.root, a))) {
        for (const name of await level(path.join(this.root, a, b))) {
          if (!HASH_RE.test(name)) continue;
          try {
            const st = await fs.stat(path.join(this.root, a, b, name));
            yield { hash: name, modified: st.mtime };
          } catch {
            // deleted meanwhile
          }
        }
      }
    }
  }

  async delete(hash: string): Promise<void> {
    await fs.rm(this.pathOf(hash), { force: true });
  }

  async close(): Promise<void> {}
}
