import { FsError } from '../fs/errors.js';
import { HISTORY_PATHS_PER_COMMIT } from '../fs/history.js';
import type { FsTx } from '../fs/tx.js';
import type { FileType, Stat } from '../fs/types.js';

/**
 * Entry changes pending at most; one more commits them first. Each changed path stays findable
 * by history(path), with room left for the paths of the commit that carries them.
 */
export const MAX_ENTRY_CHANGES = HISTORY_PATHS_PER_COMMIT - 32;

/** An unlink, rmdir or hard link answered and not committed yet (see PendingEntries). */
export interface EntryChange {
  kind: 'unlink' | 'rmdir' | 'link';
  parentIno: number;
  name: string;
  /** the inode the entry named when it was removed, or is linked to */
  ino: number;
  type: FileType;
  path: string;
  /** when it was made: the times the commit gives the directory and the inode */
  time: number;
}

/** A name as the pending changes leave it: linked to an inode, or removed (null). */
export type PendingName = { ino: number; type: FileType } | null;

/**
 * Unlinks, rmdirs and hard links of one mount that are answered at once and committed later,
 * with the next commit the mount makes (HandleTable.transaction) or on their own
 * (HandleTable.commitEntries): `rm -rf` of a tree becomes a few commits instead of one per
 * entry, and git's link of each new object to its name and unlink of the temporary name join
 * the next object's create commit.
 *
 * Invariants:
 * - Changes are applied in the order they were made, and before anything else in the commit that
 *   carries them; every commit of the mount carries all of them, so no commit of the mount shows
 *   a state in which a change made before it has not happened.
 * - Until committed, they show to this mount only: `name` (lookup, a create's EEXIST check, an
 *   unlink's target), `listing` (readdir), `isEmpty` (rmdir) and `overlay` (the directory's
 *   times and link count, the inode's links and ctime).
 * - Applying is idempotent and never fails on what another surface did meanwhile: a removed
 *   entry that is gone or names another inode now is left alone, a directory that is not empty
 *   any more stays, a link whose inode went or whose name was taken is not made.
 */
export class PendingEntries {
  private list: EntryChange[] = [];
  /** each changed name's state, by directory */
  private readonly names = new Map<number, Map<string, PendingName>>();
  /** per directory: how many names that exist in the committed state are removed */
  private readonly removed = new Map<number, number>();
  /** the inodes whose links the changes add or remove (overlay() applies the list to them) */
  private readonly inos = new Set<number>();

  get size(): number {
    return this.list.length;
  }

  add(c: EntryChange): void {
    this.list.push(c);
    this.index(c);
  }

  /** Whether the changes change directory `dirIno` (its entries, so its times). */
  changes(dirIno: number): boolean {
    return this.names.has(dirIno);
  }

  /** The state the changes leave `name` of directory `dirIno` in; undefined when unchanged. */
  name(dirIno: number, name: string): PendingName | undefined {
    return this.names.get(dirIno)?.get(name);
  }

  /**
   * A committed listing of directory `dirIno` as the changes leave it: removed names out, linked
   * names in (at the end).
   */
  listing<E extends { name: string; ino: number; type: FileType }>(dirIno: number, committed: E[]): Array<E | { name: string; ino: number; type: FileType }> {
    const changed = this.names.get(dirIno);
    if (!changed) return committed;
    const out: Array<E | { name: string; ino: number; type: FileType }> = committed.filter((e) => !changed.has(e.name));
    for (const [name, state] of changed) if (state) out.push({ name, ...state });
    return out;
  }

  /**
   * Whether directory `dirIno` is empty once the changes are applied, given its first committed
   * names (`firstNames(limit)`, limit: one more than it has removals, which is enough to tell).
   */
  async isEmpty(dirIno: number, firstNames: (limit: number) => Promise<string[]>): Promise<boolean> {
    const changed = this.names.get(dirIno);
    if (changed) for (const state of changed.values()) if (state) return false;
    const names = await firstNames((this.removed.get(dirIno) ?? 0) + 1);
    return names.every((n) => changed?.get(n) === null);
  }

  /** `st` as it will be once the changes are committed (FsTx.unlinkIn, rmdirIn, linkIn). */
  overlay(st: Stat): Stat {
    if (this.list.length === 0 || (!this.names.has(st.ino) && !this.inos.has(st.ino))) return st;
    const out = { ...st };
    for (const c of this.list) {
      if (c.parentIno === st.ino) {
        out.mtimeMs = out.ctimeMs = Math.max(c.time, out.ctimeMs);
        if (c.kind === 'rmdir') out.nlink -= 1;
      }
      if (c.ino === st.ino) {
        out.ctimeMs = Math.max(c.time, out.ctimeMs);
        out.nlink = c.kind === 'rmdir' ? 0 : Math.max(0, out.nlink + (c.kind === 'link' ? 1 : -1));
      }
    }
    return out;
  }

  /**
   * The changes pending now, for one commit to carry: a summary of them, what to write into its
   * transaction, and what to call once it has committed (which drops them). More may come
   * meanwhile; they stay for the next commit.
   */
  take(): CarriedEntries | null {
    const taken = [...this.list];
    if (taken.length === 0) return null;
    return {
      summary: changeSummary(taken),
      apply: async (tx) => {
        for (const c of taken) await applyChange(tx, c);
      },
      // by identity: a concurrent commit may have carried (and dropped) some of them already
      done: () => this.drop(new Set(taken)),
    };
  }

  private drop(committed: ReadonlySet<EntryChange>): void {
    this.list = this.list.filter((c) => !committed.has(c));
    this.names.clear();
    this.removed.clear();
    this.inos.clear();
    for (const c of this.list) this.index(c);
  }

  /** Folds one change into the indexes; changes are indexed in the order they were made. */
  private index(c: EntryChange): void {
    let names = this.names.get(c.parentIno);
    if (!names) this.names.set(c.parentIno, (names = new Map()));
    // a name first changed here by a removal existed in the committed state
    if (c.kind !== 'link' && !names.has(c.name)) this.removed.set(c.parentIno, (this.removed.get(c.parentIno) ?? 0) + 1);
    names.set(c.name, c.kind === 'link' ? { ino: c.ino, type: c.type } : null);
    this.inos.add(c.ino);
  }
}

/** Entry changes taken for one commit (PendingEntries.take). */
export interface CarriedEntries {
  summary: string;
  apply(tx: FsTx): Promise<void>;
  done(): void;
}

/** Writes one change into `tx`, leaving alone what another surface changed meanwhile (see PendingEntries). */
async function applyChange(tx: FsTx, c: EntryChange): Promise<void> {
  tx.batch.touch(c.path); // history(path) finds the commit
  if (!(await tx.inode(c.parentIno))) return; // its directory went, elsewhere
  const entry = await tx.lookup(c.parentIno, c.name);
  if (c.kind === 'link') {
    // the name was taken or the inode went, elsewhere
    if (entry || !(await tx.inode(c.ino))) return;
    await tx.linkIn(c.ino, await tx.slot(c.parentIno, c.name, c.path), undefined, c.time);
    return;
  }
  if (!entry || entry.ino !== c.ino) return; // removed or replaced elsewhere
  const at = await tx.slot(c.parentIno, c.name, c.path);
  try {
    await (c.kind === 'rmdir' ? tx.rmdirIn(at, c.time) : tx.unlinkIn(at, c.time));
  } catch (err) {
    // another surface put something into the directory meanwhile: it stays, with that
    if (!(err instanceof FsError && err.code === 'ENOTEMPTY')) throw err;
  }
}

/** `unlink /a; rmdir /d` — or, for many, the first and a count (every path is in the commit's touched paths). */
function changeSummary(list: readonly EntryChange[]): string {
  const one = (c: EntryChange): string => (c.kind === 'link' ? `link ${c.path}` : `${c.kind} ${c.path}`);
  if (list.length <= 3) return list.map(one).join('; ');
  return `${one(list[0]!)} and ${list.length - 1} more entry changes`;
}
