import { execFile, spawnSync } from 'node:child_process';
import fsSync from 'node:fs';
import { IN_HEADER, OUT_HEADER } from './abi.js';

/** Largest WRITE the kernel sends us (negotiated in INIT through max_pages). */
export const MAX_WRITE = 1024 * 1024;
/** A read of /dev/fuse must have room for the largest request: a WRITE header plus its data. */
const READ_BUFFER = MAX_WRITE + 64 * 1024;
/**
 * Reads kept waiting on /dev/fuse. Each one parks a libuv thread-pool thread in read(2) (the
 * only way Node can wait on a character device), so the kernel can hand over the next request
 * while the event loop still works on the last. Two leave the default pool of four room for
 * the blob store's file I/O.
 */
const READERS = 2;

const ENOENT = 2;
const EINTR = 4;
const EAGAIN = 11;
const ENODEV = 19;

/**
 * One FUSE connection: the /dev/fuse file descriptor of a mount, mounted by us.
 *
 * The mount is made with mount(2) through mount(8), handing it our open /dev/fuse as fd 3 — the
 * same thing fusermount does, without the SCM_RIGHTS hand-over that Node cannot receive. That
 * needs root (CAP_SYS_ADMIN); without it mount.ts falls back to the libfuse driver.
 *
 * Requests are handed to `onRequest` with a buffer that is reused as soon as it returns: a
 * handler copies what it keeps before its first await. Replies are one writev(2) each.
 */
export class FuseChannel {
  private stopped = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  private active = 0;

  private constructor(
    readonly fd: number,
    readonly dir: string,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** True when this process may mount with mount(2) (root) and mount(8) is there. */
  static available(): boolean {
    return process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v mount'], { stdio: 'ignore' }).status === 0;
  }

  static mount(dir: string, options: { fsname: string }): FuseChannel {
    const fd = fsSync.openSync('/dev/fuse', 'r+');
    const opts = ['nosuid', 'nodev', 'fd=3', 'rootmode=40000', `user_id=${process.getuid?.() ?? 0}`, `group_id=${process.getgid?.() ?? 0}`, 'allow_other', 'default_permissions'];
    // -i: never call a mount.fuse helper; mount(2) straight away with our descriptor as fd 3
    const r = spawnSync('mount', ['-i', '-t', 'fuse.timefs', '-o', opts.join(','), options.fsname, dir], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
    if (r.status !== 0) {
      fsSync.closeSync(fd);
      throw new Error(`mount(8) failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    }
    return new FuseChannel(fd, dir);
  }

  /** Starts reading requests; resolves `closed` when the kernel ends the connection (unmount). */
  start(onRequest: (req: Buffer) => void): void {
    for (let i = 0; i < READERS; i++) this.readLoop(Buffer.allocUnsafe(READ_BUFFER), onRequest);
  }

  private readLoop(buf: Buffer, onRequest: (req: Buffer) => void): void {
    this.active++;
    const next = (): void => {
      if (this.stopped) return this.readerDone();
      fsSync.read(this.fd, buf, 0, buf.length, null, (err, n) => {
        if (err) {
          const errno = -(err.errno ?? 0);
          // ENOENT: the request was interrupted before we read it
          if (errno === EINTR || errno === EAGAIN || errno === ENOENT) return next();
          if (errno !== ENODEV) console.error('timefs fuse: reading /dev/fuse failed', err);
          this.stopped = true;
          return this.readerDone();
        }
        if (n >= IN_HEADER) {
          try {
            onRequest(buf.subarray(0, n));
          } catch (e) {
            console.error('timefs fuse: request handler threw', e);
          }
        }
        next();
      });
    };
    next();
  }

  private readerDone(): void {
    if (--this.active === 0) {
      try {
        fsSync.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.resolveDone();
    }
  }

  /** Resolves once the connection is gone and the descriptor closed. */
  get closed(): Promise<void> {
    return this.done;
  }

  /** Sends a reply: error is 0 or a negative errno. */
  reply(unique: bigint, error: number, payload: readonly Buffer[] = []): void {
    if (this.stopped) return;
    let len = OUT_HEADER;
    for (const p of payload) len += p.length;
    const header = Buffer.allocUnsafe(OUT_HEADER);
    header.writeUInt32LE(len, 0);
    header.writeInt32LE(error, 4);
    header.writeBigUInt64LE(unique, 8);
    try {
      fsSync.writevSync(this.fd, [header, ...payload]);
    } catch (err) {
      // ENOENT: the kernel no longer waits for this request (interrupted); anything else is ours
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') console.error('timefs fuse: reply failed', err);
    }
  }

  /** Unmounts (the read loops then end with ENODEV). */
  unmount(): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('umount', [this.dir], (err, _out, stderr) => (err ? reject(new Error(`umount ${this.dir} failed: ${stderr.trim() || err.message}`)) : resolve()));
    });
  }

  /** After the kernel's DESTROY: stop reading. */
  stop(): void {
    this.stopped = true;
  }
}
