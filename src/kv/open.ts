import path from 'node:path';
import { MemoryEngine } from './memory.js';
import { SqliteEngine } from './sqlite.js';
import type { KvEngine } from './types.js';

export type EngineKind = 'sqlite' | 'memory' | 'fdb';

export interface EngineConfig {
  kind: EngineKind;
  /** Data directory (sqlite keeps `kv.sqlite3` there). */
  dataDir: string;
  /** FoundationDB cluster file (default: FDB_CLUSTER_FILE or the client's default). */
  clusterFile?: string;
  /** SQLite only: deferred commit (SqliteEngineOptions.commitDelayMs); ignored by the other engines. */
  commitDelayMs?: number;
}

export function parseEngineKind(value: string): EngineKind {
  if (value === 'sqlite' || value === 'memory' || value === 'fdb') return value;
  throw new Error(`unknown engine '${value}': choose sqlite (default), fdb or memory`);
}

/** Opens the configured engine; the FoundationDB module is imported only when chosen. */
export async function openEngine(config: EngineConfig): Promise<KvEngine> {
  switch (config.kind) {
    case 'sqlite':
      return new SqliteEngine({ file: path.join(config.dataDir, 'kv.sqlite3'), ...(config.commitDelayMs ? { commitDelayMs: config.commitDelayMs } : {}) });
    case 'memory':
      return new MemoryEngine();
    case 'fdb': {
      const { FdbEngine } = await import('./fdb.js');
      return new FdbEngine(config.clusterFile ?? process.env.FDB_CLUSTER_FILE);
    }
  }
}
