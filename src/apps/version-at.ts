import type { AgentFs } from '../fs/agentfs.js';
import { isVersionString, parseVersion, type Version } from '../fs/index.js';
import { parseTimeSpec } from '../fs/timespec.js';
import { newestDatabaseVersionAt } from '../sqlvfs/names.js';

/**
 * The version that names the moment `when` for everything an agent has: its files and its app
 * databases (GetVersionAtTimestamp, `timefs version-at`).
 *
 * Versions are store-wide, but each namespace's time index knows only its own commits. The files'
 * last commit before 5 pm may be from noon; the app database's data at that version is its noon
 * state, missing what it wrote until 5 pm. The newest commit of any of them at or before `when`
 * names the moment for all: a namespace read at a version shows its last commit at or below it,
 * and none of them committed between that version and `when` (commit versions grow with time).
 */
export async function agentVersionAt(fs: AgentFs, when: Date): Promise<Version> {
  const files = await fs.versionAt(when);
  const databases = await newestDatabaseVersionAt(fs.store, fs.agent, when);
  return databases !== null && databases > files ? databases : files;
}

/** A version argument: 20 hex digits, or a time ("yesterday", RFC 3339) as agentVersionAt names it. */
export async function agentVersionOf(fs: AgentFs, spec: string): Promise<Version> {
  const s = spec.trim();
  if (isVersionString(s)) return parseVersion(s);
  return agentVersionAt(fs, await parseTimeSpec(s, new Date(fs.store.clock())));
}
