import { Writable } from 'node:stream';
import type { Store, StoreValue } from '../store/index.js';
import { Bounded } from '../util/bounded.js';
import { BLOCK_SIZE, INLINE_MAX } from './types.js';

/**
 * Cuts a byte stream into the filesystem's blocks as it arrives and stores the big ones in the blob
 * store right away, so a 1 GiB upload never sits in memory: only the block being filled does.
 * `blocks` then holds one StoreValue per block (undefined for an all-zero block) ready to commit
 * with FsTx.setContent. Chunks uploaded for a stream that is never committed are swept by GC.
 */
export class BlockStager extends Writable {
  readonly blocks: Array<StoreValue | undefined> = [];
  size = 0;
  private current: Buffer[] = [];
  private currentLength = 0;
  private inlineBytes = 0;

  constructor(
    private readonly store: Store,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
    /** Runs after the last block is stored and before 'finish' (e.g. the commit of a PUT). */
    private readonly onComplete?: (stager: BlockStager) => Promise<void>,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const tooBig = this.count(chunk.length);
    if (tooBig) return done(tooBig);
    void this.take(chunk).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    void this.finish().then(() => done(), done);
  }

  /**
   * Stages a whole body already in memory (a small upload) without the stream machinery, then runs
   * onComplete — what writing it and ending the stream would do.
   */
  async stageAll(data: Buffer): Promise<void> {
    const tooBig = this.count(data.length);
    if (tooBig) throw tooBig;
    await this.take(data);
    await this.finish();
  }

  /** Counts bytes in; the EFBIG error once they pass the limit. */
  private count(n: number): Error | null {
    this.size += n;
    return this.size > this.maxBytes ? Object.assign(new Error(`body larger than ${this.maxBytes} bytes`), { code: 'EFBIG' }) : null;
  }

  /** The last block, then onComplete (e.g. the commit of a PUT). */
  private async finish(): Promise<void> {
    await this.flushBlock(true);
    await this.onComplete?.(this);
  }

  private async take(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(BLOCK_SIZE - this.currentLength, chunk.length - offset);
      this.current.push(chunk.subarray(offset, offset + n));
      this.currentLength += n;
      offset += n;
      if (this.currentLength === BLOCK_SIZE) await this.flushBlock(false);
    }
  }

  /** Chunk uploads in flight: a few at once overlap hashing, writing and fsync. */
  private readonly uploads = new Bounded(4);

  private async flushBlock(last: boolean): Promise<void> {
    if (this.currentLength > 0) {
      const data = Buffer.concat(this.current, this.currentLength);
      this.current = [];
      this.currentLength = 0;
      const index = this.blocks.length;
      this.blocks.push(undefined);
      if (data.equals(Buffer.alloc(data.length))) {
        // a hole
      } else if (data.length <= INLINE_MAX && this.inlineBytes < 4 * BLOCK_SIZE) {
        this.inlineBytes += data.length;
        this.blocks[index] = data;
      } else {
        await this.uploads.add(
          this.store.putBlob(data).then((ref) => {
            this.blocks[index] = ref;
          }),
        );
      }
    }
    if (last) await this.uploads.settle();
  }
}
