import type { AgentFs } from '../../fs/agentfs.js';
import { MAX_LOGGED_PATHS } from '../../fs/index.js';
import type { FsView } from '../../fs/view.js';
import { commitVersionOf, readVersionOf, type Version } from '../../store/version.js';
import { Notify, ROOT_ID, invalEntryOut, invalInodeOut } from './abi.js';
import type { FuseChannel } from './channel.js';
import type { NodeTable } from './nodes.js';

/** How often the commit log is checked for other surfaces' commits (ms). */
export const WATCH_MS = 100;
/**
 * Log records read in one check (the mount's own commits included: a busy mount makes ~500 in
 * WATCH_MS); past this many since the last check, everything is dropped.
 */
const MAX_RECORDS = 10_000;

type Notification = readonly [code: number, payload: Buffer];

/**
 * Keeps a mount's kernel caches true to commits made elsewhere — the CLI, WebDAV, tools, another
 * process. Every WATCH_MS it reads the commit log past the last commit it saw, and for each path a
 * foreign commit names it tells the kernel to drop the entry (a cached "no such name" too), the
 * attributes and cached pages of the file there now, and the attributes of its directory. So the
 * kernel may keep head entries and attributes for long (fewer requests), and other surfaces'
 * changes still show within about WATCH_MS.
 *
 * Invariants:
 * - Commits made through the mount (reported to `own`) are skipped: the kernel made them and knows.
 *   A check that reads our commit before `own` hears of it only drops a little cache.
 * - A commit without paths changed no file (agent records); one whose list may be cut short, or a
 *   backlog too long to read, drops every head node the kernel holds. Cached "no such name"
 *   entries outside the listed paths then last until the cache timeout: the safety net.
 * - Each check's notifications go out once more at the next check: a request answered from the
 *   head read just before the commit could otherwise put the old state back into the cache.
 */
export class CacheInvalidator {
  private readonly mine = new Set<bigint>();
  private seen: Version | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again: Notification[] = [];
  private failing = false;

  constructor(private readonly channel: FuseChannel) {}

  /** Records a commit made through the mount (AgentFsOptions.onCommit). */
  readonly own = (version: Version): void => {
    this.mine.add(commitVersionOf(version));
  };

  /** Starts watching `fs`'s commit log past version `from`; `nodes` says what the kernel holds. */
  start(fs: AgentFs, nodes: NodeTable, from: Version): void {
    this.seen = from;
    this.timer = setInterval(() => void this.check(fs, nodes), WATCH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async check(fs: AgentFs, nodes: NodeTable): Promise<void> {
    if (this.running || !this.seen) return;
    this.running = true;
    try {
      const repeat = this.again;
      this.again = [];
      // head(): asks the engine, so the mount's own reads (which may be 100 ms stale) see it too
      const head = await fs.head();
      const fresh = commitVersionOf(head) !== commitVersionOf(this.seen) ? await this.foreignChanges(fs, nodes, head) : [];
      for (const [code, payload] of [...repeat, ...fresh]) await this.channel.notify(code, payload);
      this.again = fresh;
      this.failing = false;
    } catch (err) {
      // once per outage, not every WATCH_MS
      if (!this.failing) console.error('timefs fuse: checking for changes made elsewhere failed: until it works again, the mount shows them only as its kernel caches expire', err);
      this.failing = true;
    } finally {
      this.running = false;
    }
  }

  /** The notifications for the commits past `seen` up to `head` (or later) not made through the mount. */
  private async foreignChanges(fs: AgentFs, nodes: NodeTable, head: Version): Promise<Notification[]> {
    const before = this.seen!;
    const records = await fs.log({ after: before, limit: MAX_RECORDS + 1 });
    if (records.length === 0) {
      this.seen = head;
      return [];
    }
    const newest = commitVersionOf(records[0]!.version);
    this.seen = records[0]!.version;
    let everything = records.length > MAX_RECORDS;
    const paths = new Set<string>();
    for (const r of records) {
      if (this.mine.has(commitVersionOf(r.version))) continue;
      if (r.paths.length >= MAX_LOGGED_PATHS) everything = true; // the list may be cut short
      for (const p of r.paths) paths.add(p);
    }
    for (const v of this.mine) if (v <= newest) this.mine.delete(v);
    if (everything) return dropAll(nodes);
    if (paths.size === 0) return [];
    // What each path named before these commits too: a file unlinked or renamed away elsewhere
    // may still be cached under another name (a hard link) or be open, with its old link count.
    // The state before may be gone (GC): then only the present is dropped — what the kernel
    // keeps of the old file then lasts until the cache timeout.
    const previous = await fs.view(readVersionOf(before)).catch(() => null);
    return dropPaths(await fs.view(), previous, paths);
  }
}

/** Every head node the kernel holds: its attributes, pages and the entry it was reached by. */
function dropAll(nodes: NodeTable): Notification[] {
  const out: Notification[] = [];
  for (const node of nodes.heads()) {
    out.push([Notify.INVAL_INODE, invalInodeOut(node.id, 0, 0)]);
    if (node.id !== ROOT_ID && node.name) out.push([Notify.INVAL_ENTRY, invalEntryOut(node.parent, node.name)]);
  }
  return out;
}

/**
 * For each path (head paths as the log names them; head node ids are inode numbers): the entry,
 * the directory's attributes, and the attributes and pages of what the path names now and of
 * what it named in `previous` (the state before the commits), each inode once.
 */
async function dropPaths(view: FsView, previous: FsView | null, paths: Iterable<string>): Promise<Notification[]> {
  const out: Notification[] = [];
  const inodes = new Set<number>();
  for (const path of paths) {
    const names = path.split('/').filter(Boolean);
    const name = names.pop();
    if (name === undefined) {
      inodes.add(ROOT_ID);
      continue;
    }
    const was = previous ? await inodeAt(previous, names, name) : undefined;
    if (was !== undefined) inodes.add(was);
    let dir: number;
    try {
      dir = (await view.resolve(names, true, path)).ino;
    } catch {
      continue; // the directory is gone too: a path above it is in the list, or nothing cached it
    }
    out.push([Notify.INVAL_ENTRY, invalEntryOut(dir, name)]);
    inodes.add(dir);
    const now = await view.lookup(dir, name);
    if (now) inodes.add(now.ino);
  }
  for (const ino of inodes) out.push([Notify.INVAL_INODE, invalInodeOut(ino, 0, 0)]);
  return out;
}

/** The inode `dirNames`/`name` names in `view`, if it names one. */
async function inodeAt(view: FsView, dirNames: string[], name: string): Promise<number | undefined> {
  try {
    const dir = (await view.resolve(dirNames, true)).ino;
    return (await view.lookup(dir, name))?.ino;
  } catch {
    return undefined;
  }
}
