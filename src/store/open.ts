import path from 'node:path';
import { openEngine, type EngineKind } from '../kv/open.js';
import { openBlobStore } from './blobs/open.js';
import { Store } from './store.js';

export interface OpenStoreConfig {
  /** Data directory (default: $TIMEFS_DATA or ./.timefs). */
  dataDir?: string;
  engine?: EngineKind;
  /** 'dir' (default) | 'dir:/path' | 's3://bucket/prefix' */
  blobs?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  clusterFile?: string;
  retentionMs?: number;
  clock?: () => number;
  /**
   * The embedded engine's deferred commit, ms (0/absent: every commit is written before it
   * resolves). A commit then survives a process crash once written, at most this much later.
   */
  commitDelayMs?: number;
}

export const defaultDataDir = (): string => path.resolve(process.env.TIMEFS_DATA ?? '.timefs');

/** Opens the store as configured: engine + blob store, with the embedded defaults. */
export async function openStore(config: OpenStoreConfig = {}): Promise<Store> {
  const dataDir = path.resolve(config.dataDir ?? defaultDataDir());
  const kv = await openEngine({
    kind: config.engine ?? 'sqlite',
    dataDir,
    ...(config.clusterFile ? { clusterFile: config.clusterFile } : {}),
    ...(config.commitDelayMs ? { commitDelayMs: config.commitDelayMs } : {}),
  });
  const blobs = await openBlobStore({
    dataDir,
    ...(config.blobs ? { location: config.blobs } : {}),
    ...(config.s3Endpoint ? { s3Endpoint: config.s3Endpoint } : {}),
    ...(config.s3ForcePathStyle !== undefined ? { s3ForcePathStyle: config.s3ForcePathStyle } : {}),
  });
  return new Store({
    kv,
    blobs,
    ...(config.clock ? { clock: config.clock } : {}),
    ...(config.retentionMs !== undefined ? { retentionMs: config.retentionMs } : {}),
  });
}
