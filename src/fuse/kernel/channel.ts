import { execFile, spawnSync } from 'node:child_process';
import fsSync from 'node:fs';
import net from 'node:net';
import { IN_HEADER, Op, outHeader } from './abi.js';

/**
 * Largest WRITE the kernel sends us: a stored block (the kernel caps it at INIT max_pages). cp
 * writes 128 KiB at a time, dd and the like more; with 60 KiB WRITEs (when the event-loop reader
 * read into libuv's 64 KiB buffers) every such write(2) was three round trips.
 */
export const MAX_WRITE = 1024 * 1024;
/**
 * Every read of /dev/fuse must have room for the largest request (header, write header and
 * MAX_WRITE of data), or the kernel refuses it (EINVAL): the readers' buffers.
 */
const READ_BUFFER = MAX_WRITE + 4096;
/** Reads kept waiting on /dev/fuse by the thread-pool reader. */
const READERS = 2;
/**
 * After answering the last request in flight, the event-loop reader polls /dev/fuse this long
 * (µs) before it goes back to sleep in epoll; 0 turns polling off (TIMEFS_FUSE_POLL_US). See poll().
 */
const POLL_US = Number(process.env.TIMEFS_FUSE_POLL_US ?? 100);
/**
 * Read-only RELEASEs held back until the request read after them is handed over (see poll());
 * past this many they are handed over at once.
 */
const MAX_HELD = 16;
/** Requests the kernel never expects an answer to (FORGET, INTERRUPT, BATCH_FORGET). */
const NO_REPLY = new Set<number>([Op.FORGET, Op.INTERRUPT, Op.BATCH_FORGET]);

const ENOENT = 2;
const EINTR = 4;
const EAGAIN = 11;
const O_ACCMODE = 3;
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
  /** requests handed to the session and not answered yet */
  private inFlight = 0;
  /** set while the event-loop reader runs: poll() hands what it reads to the same handler */
  private onRequest: ((req: Buffer) => void) | null = null;
  private pollScheduled = false;
  /**
   * The event-loop reader's buffer, shared by libuv's reads (onread) and poll(): both hand it to
   * the handler synchronously, and neither runs while the other's request is being dispatched.
   */
  private readBuffer: Buffer | null = null;

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

  /**
   * Starts reading requests; `closed` resolves when the kernel ends the connection (unmount).
   *
   * The event loop waits on /dev/fuse itself: the descriptor is wrapped in a libuv stream handle
   * (epoll; each read(2) returns exactly one request), so a request is read and answered on the
   * main thread with no thread hand-off at all — the way a single-threaded libfuse server works.
   * `process.binding('pipe_wrap')` is the only way to give libuv a descriptor that is neither a
   * socket, a pipe nor a tty; where it is gone (a future Node), reads parked in the thread pool
   * take over (one hand-off per request).
   */
  start(onRequest: (req: Buffer) => void): void {
    // TIMEFS_FUSE_READER=threadpool forces the fallback (the tests run it; it also helps diagnosis)
    const handle = process.env.TIMEFS_FUSE_READER === 'threadpool' ? null : pipeHandle(this.fd);
    if (!handle) {
      for (let i = 0; i < READERS; i++) this.readLoop(Buffer.allocUnsafe(READ_BUFFER), onRequest);
      return;
    }
    if (POLL_US > 0) this.onRequest = onRequest;
    // `handle` is an undocumented (long-standing) Socket option: wrap an existing libuv handle.
    // `onread` makes libuv read into our buffer (reused for every read, as the handlers expect),
    // which unlike libuv's own 64 KiB ones has room for a MAX_WRITE request.
    this.readBuffer = Buffer.allocUnsafe(READ_BUFFER);
    const onread = {
      buffer: this.readBuffer,
      callback: (n: number, chunk: Buffer): void => {
        // a read-only RELEASE: the request after it, when the kernel has queued one already, first (see poll())
        if (n >= IN_HEADER && chunk.readUInt32LE(0) === n && isReadOnlyRelease(chunk, n)) {
          const held = [Buffer.from(chunk.subarray(0, n))];
          return this.handOver(onRequest, chunk, this.readPastReleases(chunk, held, 0), held);
        }
        // one request per read(2); should a stream ever hand over two at once, split by length
        for (let off = 0; off + IN_HEADER <= n; ) {
          const len = chunk.readUInt32LE(off);
          if (len < IN_HEADER || off + len > n) break;
          this.dispatch(onRequest, chunk.subarray(off, off + len));
          off += len;
        }
      },
    };
    const stream = new net.Socket({ handle, readable: true, writable: false, onread } as unknown as net.SocketConstructorOpts);
    const end = (err?: NodeJS.ErrnoException): void => {
      if (err && err.code !== 'ENODEV') console.error('timefs fuse: reading /dev/fuse failed', err);
      this.stopped = true;
      stream.destroy(); // closes the descriptor
      this.resolveDone();
    };
    stream.on('error', end);
    stream.on('end', () => end());
  }

  private dispatch(onRequest: (req: Buffer) => void, req: Buffer): void {
    if (!NO_REPLY.has(req.readUInt32LE(4))) this.inFlight++;
    try {
      onRequest(req);
    } catch (e) {
      console.error('timefs fuse: request handler threw', e);
    }
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
        if (n >= IN_HEADER) this.dispatch(onRequest, buf.subarray(0, n));
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

  /**
   * Polls /dev/fuse for the next request instead of sleeping in epoll, for up to POLL_US, when
   * nothing is in flight. Why: a request that arrives while this thread sleeps waits for the
   * thread to be woken, and on this 2-vCPU VM that wake-up took ~100 µs on average (`perf sched
   * latency` during a FUSE untar) — more than answering a cached lookup. A client issuing syscalls
   * back to back (tar, rm -rf, git) sends its next request ~30 µs after our reply. It runs in
   * a setImmediate, after everything this turn has to do, and takes one request per call (the
   * reply to it schedules the next poll); libuv still reads the descriptor too (whichever read
   * comes first gets the request, the other finds nothing).
   *
   * A RELEASE of a read-only file it reads (or libuv reads) is held back and handed over after the
   * request that follows it, if one comes within the poll (or is already queued): close(2) does
   * not wait for RELEASE, so the process that closed a file is usually waiting on its next
   * request already — cat's OPEN of the next file — which then no longer waits behind the
   * RELEASE's work and reply (~50 µs here). The kernel queues RELEASE in the background anyway,
   * so a server may see it after later requests; every handler is written for that.
   */
  private poll = (): void => {
    this.pollScheduled = false;
    const onRequest = this.onRequest;
    const buf = this.readBuffer;
    if (!onRequest || !buf || this.stopped || this.inFlight > 0) return;
    const held: Buffer[] = [];
    const n = this.readPastReleases(buf, held, performance.now() + POLL_US / 1000);
    this.handOver(onRequest, buf, n, held);
    // a FORGET (no reply, which would have scheduled the next poll) keeps the poll going; a poll
    // that found nothing ends it, and the thread sleeps in epoll until libuv reads a request
    // (re-polling then spun a core at 100% on an idle mount)
    if (n >= IN_HEADER && this.inFlight === 0) this.schedulePoll();
  };

  /**
   * Reads requests without blocking until one that is not a read-only RELEASE comes (its length is
   * returned; `buf` holds it) or `deadline` (performance.now()) passes (-1). The RELEASEs read on
   * the way are copied into `held`, up to MAX_HELD.
   */
  private readPastReleases(buf: Buffer, held: Buffer[], deadline: number): number {
    // Every empty read throws a new Error; without a stack trace (which V8 builds by translating
    // optimized frames) a round of this loop takes ~5 µs instead of ~7, so a request is picked up
    // sooner and the loop leaves less garbage. Restored before any handler runs. (A non-number
    // limit skips the capture entirely — with 0 V8 still summarizes this frame, 6% of the mount's
    // CPU in git add — but then this function ran unoptimized: untar 4.64 s against 4.35 s, four
    // alternating rounds. So 0.)
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (;;) {
        try {
          const n = fsSync.readSync(this.fd, buf, 0, buf.length, null);
          if (!isReadOnlyRelease(buf, n) || held.length >= MAX_HELD) return n;
          held.push(Buffer.from(buf.subarray(0, n)));
        } catch (err) {
          const errno = -((err as NodeJS.ErrnoException).errno ?? 0);
          // EAGAIN: nothing yet; ENOENT: that request was interrupted; anything else: libuv's reader reports it
          if ((errno === EAGAIN || errno === ENOENT || errno === EINTR) && performance.now() < deadline) continue;
          return -1;
        }
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  /**
   * Hands over the request in `buf` (when n >= IN_HEADER), then the RELEASEs held back before it:
   * after it has been answered, when its handler answers at once (the reply is written from a
   * microtask of this turn); at once when there is no request.
   */
  private handOver(onRequest: (req: Buffer) => void, buf: Buffer, n: number, held: readonly Buffer[]): void {
    if (n >= IN_HEADER) this.dispatch(onRequest, buf.subarray(0, n));
    if (held.length === 0) return;
    const later = (): void => {
      for (const req of held) this.dispatch(onRequest, req);
    };
    if (n >= IN_HEADER) setImmediate(later);
    else later();
  }

  private schedulePoll(): void {
    if (this.pollScheduled || !this.onRequest) return;
    this.pollScheduled = true;
    setImmediate(this.poll);
  }

  /** Sends a reply: error is 0 or a negative errno. */
  reply(unique: bigint, error: number, payload: readonly Buffer[] = []): void {
    this.inFlight--;
    if (this.inFlight === 0) this.schedulePoll();
    if (this.stopped) return;
    let len = 0;
    for (const p of payload) len += p.length;
    const header = outHeader(len, error, unique);
    try {
      fsSync.writevSync(this.fd, [header, ...payload]);
    } catch (err) {
      // ENOENT: the kernel no longer waits for this request (interrupted); anything else is ours
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') console.error('timefs fuse: reply failed', err);
    }
  }

  /**
   * Sends a notification (`code`: Notify) the kernel did not ask for. Written from the thread pool,
   * never from this thread: the kernel may have to wait for a directory lock held by a process whose
   * request is waiting for us (libfuse's docs warn of that deadlock), so this thread must go on
   * serving meanwhile. Resolves once written; "not cached" answers (ENOENT) are not errors.
   */
  notify(code: number, payload: Buffer | readonly Buffer[]): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const parts = Buffer.isBuffer(payload) ? [payload] : payload;
    const header = outHeader(parts.reduce((n, p) => n + p.length, 0), code, 0n);
    return new Promise((resolve) => {
      fsSync.writev(this.fd, [header, ...parts], (err) => {
        // ENOENT: the kernel has nothing cached by that id or name; ENOTDIR/EBUSY: not ours to drop
        if (err && !this.stopped && !['ENOENT', 'ENOTDIR', 'EBUSY', 'EBADF'].includes(err.code ?? '')) console.error('timefs fuse: notifying the kernel failed', err);
        resolve();
      });
    });
  }

  /**
   * Unmounts (the read loops then end with ENODEV). When a process still uses the mount (a file
   * open, a working directory in it: "target is busy"), detaches it instead (`umount -l`, what
   * libfuse does as root): the directory is free at once and nothing new can enter, while those
   * processes go on being served until they let go — only then does the kernel end the connection
   * (`closed`). Cutting them off would fail their writes; refusing would leave the mount up.
   * Resolves to how it went.
   */
  async unmount(): Promise<'unmounted' | 'detached'> {
    const umount = (args: string[]): Promise<string | null> =>
      new Promise((resolve) => execFile('umount', args, (err, _out, stderr) => resolve(err ? stderr.trim() || err.message : null)));
    const failed = await umount([this.dir]);
    if (failed === null) return 'unmounted';
    // busy (or gone already, when the lazy unmount fails too): the first error says why
    if ((await umount(['-l', this.dir])) !== null) throw new Error(`umount ${this.dir} failed: ${failed}`);
    return 'detached';
  }

  /** After the kernel's DESTROY: stop reading. */
  stop(): void {
    this.stopped = true;
  }
}

/**
 * A RELEASE of a file opened read-only (fuse_release_in: fh, then the open flags). Only those are
 * held back (poll(), and the libuv reader): releasing a writer commits what it buffered, which
 * later requests may need to see first; a reader's release only drops the handle.
 */
function isReadOnlyRelease(req: Buffer, n: number): boolean {
  return n >= IN_HEADER + 12 && req.readUInt32LE(4) === Op.RELEASE && (req.readUInt32LE(IN_HEADER + 8) & O_ACCMODE) === 0;
}

interface PipeBinding {
  Pipe: new (type: number) => { open(fd: number): number };
  constants: { SOCKET: number };
}

/** A libuv stream handle on `fd`, or null where Node no longer offers one. */
function pipeHandle(fd: number): object | null {
  try {
    const binding = (process as unknown as { binding(name: string): PipeBinding }).binding('pipe_wrap');
    const handle = new binding.Pipe(binding.constants.SOCKET);
    return handle.open(fd) === 0 ? handle : null;
  } catch {
    return null;
  }
}
