import path from 'node:path';
import { MemoryEngine } from '../../src/kv/memory.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from './tmp.js';

/** A settable clock, ms since epoch. */
export class TestClock {
  constructor(public now = Date.UTC(2026, 10, 20, 12, 0, 0)) {}
  readonly fn = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

let counter = 0;

/** A store on the SQLite engine (or memory) in a temp dir, with an injectable clock. */
export function makeStore(options: { engine?: 'sqlite' | 'memory'; clock?: TestClock; retentionMs?: number } = {}): Store {
  const dir = path.join(tempDir('store'), `s${counter++}`);
  const kv = options.engine === 'memory' ? new MemoryEngine() : new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') });
  return new Store({
    kv,
    blobs: new DirBlobStore(path.join(dir, 'blobs'), { fsync: false }),
    ...(options.clock ? { clock: options.clock.fn } : {}),
    ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
  });
}
