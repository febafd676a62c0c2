import { MAX_LOGGED_PATHS, type LogRecord, type Namespace, type Version } from '../store/index.js';
import { readVersionOf } from '../store/version.js';
import { isWithin } from './path.js';

/**
 * history(path) finds a commit through the first this many paths it touched (the store's log
 * record keeps no more): a writer making many changes in one commit keeps to fewer.
 */
export const HISTORY_PATHS_PER_COMMIT = MAX_LOGGED_PATHS;

export interface HistoryEntry {
  /** read version: read the path as it was right after this change */
  version: Version;
  time: Date;
  actor: string;
  summary: string;
  /** the paths the commit touched that concern the queried path */
  paths: string[];
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** pass as `before` for the next (older) page; null at the end of history */
  next: Version | null;
}

/**
 * The versions at which `path` (a file, or anything under a directory) changed, newest first.
 * Found through the commit log: a commit concerns the path when it touched the path itself,
 * something below it, or an ancestor of it (a rename or removal of a parent moves the path too).
 */
export async function pathHistory(ns: Namespace, path: string, options: { limit?: number; before?: Version } = {}): Promise<HistoryPage> {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
  const entries: HistoryEntry[] = [];
  let before = options.before;
  const PAGE = 500;
  for (;;) {
    const page: LogRecord[] = await ns.log({ limit: PAGE, ...(before ? { before } : {}) });
    for (const rec of page) {
      const hits = rec.paths.filter((p) => isWithin(p, path) || isWithin(path, p));
      if (hits.length === 0) continue;
      entries.push({ version: readVersionOf(rec.version), time: new Date(rec.time), actor: rec.actor, summary: rec.summary, paths: hits });
      if (entries.length === limit) return { entries, next: rec.version };
    }
    if (page.length < PAGE) return { entries, next: null };
    before = page[page.length - 1]!.version;
  }
}
