import path from 'node:path';
import { describe, it } from 'vitest';
import { MemoryEngine } from '../../src/kv/memory.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import type { KvEngine } from '../../src/kv/types.js';
import { tempDir } from '../helpers/tmp.js';
import { engineConformance } from './conformance.js';

const dir = tempDir('kv');
let n = 0;
const files = new WeakMap<KvEngine, string>();

engineConformance('memory', async () => new MemoryEngine());

engineConformance(
  'sqlite',
  async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const engine = new SqliteEngine({ file });
    files.set(engine, file);
    return engine;
  },
  async (engine) => {
    const file = files.get(engine)!;
    await engine.close();
    return new SqliteEngine({ file });
  },
);

// deferred commit (what the FUSE mount runs): transactions resolve before their COMMIT; close() commits
engineConformance(
  'sqlite, deferred commit',
  async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const engine = new SqliteEngine({ file, commitDelayMs: 5 });
    files.set(engine, file);
    return engine;
  },
  async (engine) => {
    const file = files.get(engine)!;
    await engine.close();
    return new SqliteEngine({ file, commitDelayMs: 5 });
  },
);

const clusterFile = process.env.FDB_CLUSTER_FILE;
if (clusterFile) {
  // Each test gets its own key prefix on the shared cluster.
  engineConformance('fdb', async () => {
    const { FdbEngine } = await import('../../src/kv/fdb.js');
    return new FdbEngine(clusterFile, Buffer.from(`timefs-test/${process.pid}/${Date.now()}/${n++}/`));
  });
} else {
  describe('kv engine conformance: fdb', () => {
    it.skip('SKIPPED: FDB_CLUSTER_FILE is not set — the FoundationDB engine is not exercised on this machine', () => {});
  });
}
