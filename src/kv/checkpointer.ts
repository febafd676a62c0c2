import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a WAL-mode SQLite database from a worker thread with its own connection, so commits
 * on the main thread only append to the WAL. SQLite's automatic checkpoint runs inside COMMIT and
 * doubled the cost of a small commit (measured: 230 → 115 µs); a PASSIVE checkpoint from another
 * connection never blocks the writer. Durability is unchanged: with synchronous=NORMAL a commit
 * survives power loss once a checkpoint has fsynced it, whichever connection runs it.
 *
 * The WAL restarts from its beginning only when a write transaction starts with every frame
 * checkpointed; under a steady stream of commits the worker never quite catches up, so once the
 * WAL passes MAX_FRAMES the main thread finishes one checkpoint itself (`finish`: only the frames
 * since the worker's pass are left to copy) and the next commit restarts the WAL.
 *
 * Invariant: while the worker is healthy the main connection runs with wal_autocheckpoint=0; if
 * the worker fails, `onFailure` turns SQLite's own checkpointing back on.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 2000');
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try { const r = db.pragma('wal_checkpoint(PASSIVE)')[0]; parentPort.postMessage({ ok: true, log: r.log }); }
  catch (e) { parentPort.postMessage({ ok: false, error: String(e && e.message || e) }); }
});
`;

/** Commits between checkpoint requests (~1,000 WAL pages at the store's usual 6–10 pages each). */
const EVERY = 128;
/** WAL frames (4 KiB pages) past which the main thread finishes a checkpoint itself: 16 MiB. */
const MAX_FRAMES = 4096;

export class Checkpointer {
  /** started at the first checkpoint: a CLI command that commits a few times never pays for it */
  private worker: Worker | null = null;
  private busy = false;
  private commits = 0;
  private failed = false;
  private needsFinish = false;

  constructor(
    private readonly file: string,
    private readonly onFailure: (reason: string) => void,
    private readonly finish: () => void,
  ) {}

  private start(): Worker {
    const w = new Worker(WORKER, { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file: this.file } });
    w.unref();
    w.on('message', (m: { ok: boolean; log?: number; error?: string }) => {
      this.busy = false;
      if (!m.ok) this.fail(m.error ?? 'checkpoint failed');
      else if ((m.log ?? 0) > MAX_FRAMES) this.needsFinish = true;
    });
    w.on('error', (e) => this.fail(e.message));
    return w;
  }

  private fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.onFailure(reason);
  }

  /** Called after every commit; asks for a checkpoint every EVERY commits (never two at once). */
  afterCommit(): void {
    if (this.needsFinish) {
      this.needsFinish = false;
      this.finish();
    }
    if (this.failed || ++this.commits < EVERY || this.busy) return;
    this.commits = 0;
    this.busy = true;
    (this.worker ??= this.start()).postMessage('checkpoint');
  }

  async close(): Promise<void> {
    this.failed = true;
    await this.worker?.terminate();
  }
}
