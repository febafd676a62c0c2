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
 * Backpressure: the main thread never waits for the disk, so while a worker pass is slow (its
 * fsync behind other I/O: measured 50–58 MB of WAL in 6,000 commits under `dd conv=fsync`) the
 * WAL would grow without bound. Past HARD_LIMIT_BYTES with the worker still busy, the committing
 * thread therefore blocks until its own checkpoint gets through (SQLite lets one checkpointer run
 * at a time), as SQLite's own autocheckpoint would make it: writers slow to the disk's pace.
 *
 * Invariants: while the worker is healthy the main connection runs with wal_autocheckpoint=0 (if
 * the worker fails, `onFailure` turns SQLite's own checkpointing back on); the main connection's
 * journal_size_limit (JOURNAL_SIZE_LIMIT_BYTES) shrinks the WAL file when it restarts, so its size
 * on disk tracks the frames in use and a burst does not leave a large file behind.
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
/** Size the WAL file is cut back to when it restarts (SQLite's journal_size_limit). */
export const JOURNAL_SIZE_LIMIT_BYTES = MAX_FRAMES * 4096;
/** WAL size past which a commit waits for a checkpoint to get through (see Backpressure above). */
export const HARD_LIMIT_BYTES = 2 * JOURNAL_SIZE_LIMIT_BYTES;
/** While the worker lags, the WAL size is looked at every CHECK_EVERY commits (a stat each). */
const CHECK_EVERY = 16;
/** Longest a commit waits for the checkpoint; past it the WAL grows rather than the server stall. */
const MAX_WAIT_MS = 30_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class Checkpointer {
  /** started at the first checkpoint: a CLI command that commits a few times never pays for it */
  private worker: Worker | null = null;
  private busy = false;
  private commits = 0;
  private failed = false;
  private needsFinish = false;

  /**
   * @param finish runs a PASSIVE checkpoint on the main connection; returns false when another
   *   checkpoint (the worker's) held SQLite's checkpoint lock, so nothing was done
   * @param walBytes the WAL file's size now
   */
  constructor(
    private readonly file: string,
    private readonly onFailure: (reason: string) => void,
    private readonly finish: () => boolean,
    private readonly walBytes: () => number,
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

  /**
   * Called after every commit, outside any transaction; asks for a checkpoint every EVERY commits
   * (never two at once), and blocks while the WAL is past HARD_LIMIT_BYTES (see Backpressure).
   */
  afterCommit(): void {
    if (this.needsFinish) {
      this.needsFinish = false;
      this.finish();
    }
    if (this.failed) return;
    ++this.commits;
    if (this.busy && this.commits >= EVERY && this.commits % CHECK_EVERY === 0 && this.walBytes() > HARD_LIMIT_BYTES) {
      this.catchUp();
      return;
    }
    if (this.commits < EVERY || this.busy) return;
    this.commits = 0;
    this.busy = true;
    (this.worker ??= this.start()).postMessage('checkpoint');
  }

  /** Blocks until a checkpoint of the main connection gets through (or MAX_WAIT_MS passes). */
  private catchUp(): void {
    const deadline = Date.now() + MAX_WAIT_MS;
    while (!this.finish() && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 2);
    // the next write transaction restarts the WAL; the worker's pending answer is stale but harmless
    this.commits = 0;
  }

  async close(): Promise<void> {
    this.failed = true;
    await this.worker?.terminate();
  }
}
