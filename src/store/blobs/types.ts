/**
 * A content-addressed chunk store: hash (sha256 hex) → immutable bytes. Chunks are shared across
 * versions, files and namespaces. `put` of an existing chunk must refresh its modification time:
 * GC deletes only chunks older than a grace period, and a writer that reuses an old unreferenced
 * chunk is about to commit a reference to it.
 */
export interface BlobInfo {
  hash: string;
  modified: Date;
}

export interface BlobStore {
  /** 'dir' | 's3' */
  readonly kind: string;
  put(hash: string, data: Buffer): Promise<void>;
  /** Throws StoreError BLOB_MISSING when absent. */
  get(hash: string): Promise<Buffer>;
  list(): AsyncIterable<BlobInfo>;
  delete(hash: string): Promise<void>;
  /** Makes every chunk put so far durable. Called before a commit that may reference them. */
  sync?(): Promise<void>;
  close(): Promise<void>;
}

export const HASH_RE = /^[0-9a-f]{64}$/;
