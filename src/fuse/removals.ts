import { FsError } from '../fs/errors.js';
import { HISTORY_PATHS_PER_COMMIT } from '../fs/history.js';
import type { FsTx } from '../fs/tx.js';
import type { Stat } from '../fs/types.js';

/**
 * Removals pending at most; one more commits them first. Each removed path stays findable by
 * history(path), with room left for the paths of the commit that carries them.
 */
export const MAX_REMOVALS = HISTORY_PATHS_PER_COMMIT - 32;

/** An unlink or rmdir answered and not committed yet (see PendingRemovals). */
export interface PendingRemoval {
  parentIno: number;
  name: string;
  /** the inode the entry named when it was removed */
  ino: number;
  path: string;
  dir: boolean;
  /** when it was removed: the times the commit gives the directory and the inode */
  time: number;
}

/**
 * Unlinks and rmdirs of one mount that are answered at once and committed later, with the next
 * commit the mount makes (HandleTable.transaction) or on their own (HandleTable.commitRemovals):
 * `rm -rf` of a tree becomes a few commits instead of one per entry, and git's unlink of each
 * temporary object name joins the next object's create commit.
 *
 * Invariants:
 * - Removals are applied in the order they were made, and before anything else in the commit
 *   that carries them; every commit of the mount carries all of them, so no commit of the mount
 *   shows a state in which a removal made before it has not happened.
 * - Until committed, they show to this mount only: through `overlay` (the directory's times and
 *   link count, the inode's links), `isRemoved` (lookup answers "no such name", a create may take
 *   the name) and `countIn` (rmdir's emptiness check); a listing of a directory with a removal in
 *   it commits them first (FuseSession.removalBarrier).
 * - Applying is idempotent and never fails on what another surface did meanwhile: an entry that
 *   is gone or names another inode now is left alone, a directory that is not empty any more stays.
 */
export class PendingRemovals {
  private list: PendingRemoval[] = [];
  /** names removed, by directory */
  private readonly byDir = new Map<number, Set<string>>();
  /** links removed, by inode */
  private readonly byIno = new Map<number, number>();

  get size(): number {
    return this.list.length;
  }

  add(r: PendingRemoval): void {
    this.list.push(r);
    this.index(r);
  }

  isRemoved(dirIno: number, name: string): boolean {
    return this.byDir.get(dirIno)?.has(name) ?? false;
  }

  /** How many entries of directory `dirIno` are removed. */
  countIn(dirIno: number): number {
    return this.byDir.get(dirIno)?.size ?? 0;
  }

  /** Whether a link of `ino` is removed (its node may be gone once they are committed). */
  removesIno(ino: number): boolean {
    return this.byIno.has(ino);
  }

  /** `st` as it will be once the removals are committed (FsTx.unlinkIn, rmdirIn). */
  overlay(st: Stat): Stat {
    if (this.list.length === 0 || (!this.byDir.has(st.ino) && !this.byIno.has(st.ino))) return st;
    const out = { ...st };
    for (const r of this.list) {
      if (r.parentIno === st.ino) {
        out.mtimeMs = out.ctimeMs = Math.max(r.time, out.ctimeMs);
        if (r.dir) out.nlink -= 1;
      }
      if (r.ino === st.ino) {
        out.ctimeMs = Math.max(r.time, out.ctimeMs);
        out.nlink = r.dir ? 0 : Math.max(0, out.nlink - 1);
      }
    }
    return out;
  }

  /**
   * The removals pending now, for one commit to carry: a summary of them, what to write
   * into its transaction, and what to call once it has committed (which drops them). More may
   * come meanwhile; they stay for the next commit.
   */
  take(): CarriedRemovals | null {
    const taken = [...this.list];
    if (taken.length === 0) return null;
    return {
      summary: removalSummary(taken),
      apply: async (tx) => {
        for (const r of taken) await applyRemoval(tx, r);
      },
      // by identity: a concurrent commit may have carried (and dropped) some of them already
      done: () => this.drop(new Set(taken)),
    };
  }

  private drop(committed: ReadonlySet<PendingRemoval>): void {
    this.list = this.list.filter((r) => !committed.has(r));
    this.byDir.clear();
    this.byIno.clear();
    for (const r of this.list) this.index(r);
  }

  private index(r: PendingRemoval): void {
    let names = this.byDir.get(r.parentIno);
    if (!names) this.byDir.set(r.parentIno, (names = new Set()));
    names.add(r.name);
    this.byIno.set(r.ino, (this.byIno.get(r.ino) ?? 0) + 1);
  }
}

/** Removals taken for one commit (PendingRemovals.take). */
export interface CarriedRemovals {
  summary: string;
  apply(tx: FsTx): Promise<void>;
  done(): void;
}

/** Writes one removal into `tx`, leaving alone what another surface changed meanwhile (see PendingRemovals). */
async function applyRemoval(tx: FsTx, r: PendingRemoval): Promise<void> {
  tx.batch.touch(r.path); // history(path) finds the commit
  if (!(await tx.inode(r.parentIno))) return; // its directory went, elsewhere
  const entry = await tx.lookup(r.parentIno, r.name);
  if (!entry || entry.ino !== r.ino) return; // removed or replaced elsewhere
  const at = await tx.slot(r.parentIno, r.name, r.path);
  try {
    await (r.dir ? tx.rmdirIn(at, r.time) : tx.unlinkIn(at, r.time));
  } catch (err) {
    // another surface put something into the directory meanwhile: it stays, with that
    if (!(err instanceof FsError && err.code === 'ENOTEMPTY')) throw err;
  }
}

/** `unlink /a; rmdir /d` — or, for many, the first and a count (every path is in the commit's touched paths). */
function removalSummary(list: readonly PendingRemoval[]): string {
  const one = (r: PendingRemoval): string => `${r.dir ? 'rmdir' : 'unlink'} ${r.path}`;
  if (list.length <= 3) return list.map(one).join('; ');
  return `${one(list[0]!)} and ${list.length - 1} more removals`;
}
