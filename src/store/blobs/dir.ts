import fs from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from '../errors.js';
import { HASH_RE, type BlobInfo, type BlobStore } from './types.js';

/**
 * Chunks as files under a directory, fanned out by the first two bytes of the hash:
 * `<dir>/ab/cd/abcd…`. A put writes a temporary file, fsyncs it (unless `fsync: false`), then renames
 * it into place, so a reader never sees a partial chunk and a crash leaves at most a stray temp file.
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

  async put(hash: string, data: Buffer): Promise<void> {
    const file = this.pathOf(hash);
    const now = new Date();
    try {
      await fs.utimes(file, now, now); // exists: refresh mtime for the GC grace period
      return;
    } catch {
      // absent: write it
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${this.tmpCounter++}`;
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      if (this.options.fsync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
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
