import { BlobRef, StoreError, type CommitMeta, type LogicalKey, type Store, type StoreValue, type Version } from '../store/index.js';
import { SqlDatabase, type OpenDbOptions } from './database.js';
import { SqliteError } from './wasm.js';
import { C } from './constants.js';
import { decodePage, encodePage } from './pages.js';

/** Database names: what may appear in a manifest, a URL and a CLI argument without quoting. */
export const DB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkDbName(name: string): void {
  if (typeof name !== 'string' || !DB_NAME_RE.test(name)) {
    throw new SqliteError(`invalid database name ${JSON.stringify(name)}: 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit`, C.ERROR);
  }
}

/**
 * An agent's app databases are namespaces of their own ("sql:<agent>/<db>"): their own heads, so a
 * database commit never conflicts with file commits, while versions stay store-wide — one version
 * names the agent's files and its databases at the same instant.
 */
export const dbNamespace = (agent: string, db: string): string => `sql:${agent}/${db}`;

export async function listDatabases(store: Store, agent: string): Promise<string[]> {
  const prefix = `sql:${agent}/`;
  return (await store.listNamespaces(prefix)).map((n) => n.name.slice(prefix.length));
}

/** Opens an agent's database (created on first open at head). */
export function openAgentDb(store: Store, agent: string, db: string, options: OpenDbOptions = {}): Promise<SqlDatabase> {
  checkDbName(db);
  return SqlDatabase.open(store, dbNamespace(agent, db), db, { create: !options.version, ...options });
}

export type { Version };

/**
 * The newest commit of any of the agent's databases at or before `when`, or null when none had
 * committed by then. Each namespace's time index knows only its own commits; see
 * apps/version-at.ts for why a moment's version must take these into account.
 */
export async function newestDatabaseVersionAt(store: Store, agent: string, when: Date): Promise<Version | null> {
  let newest: Version | null = null;
  for (const db of await listDatabases(store, agent)) {
    try {
      const v = (await (await store.namespace(dbNamespace(agent, db))).versionAt(when)) as Version;
      if (newest === null || v > newest) newest = v;
    } catch (err) {
      // no commit of this database by then, expired, or just deleted: it adds nothing to the moment
      if (!(err instanceof StoreError && ['NO_VERSION_AT_TIME', 'VERSION_EXPIRED', 'UNKNOWN_NAMESPACE'].includes(err.code))) throw err;
    }
  }
  return newest;
}

/**
 * Puts an agent's database back as it was at `at` — pages and size — as one commit; connections
 * see it at their next transaction, and the state it replaces stays readable at `before`.
 *
 * Invariant kept: the head's file change counter (header bytes 24–27) is the highest any state of
 * the database ever had. SQLite keeps a connection's page cache across transactions while the 16
 * header bytes from offset 24 are unchanged; a restored page 1 brings back an old counter, and a
 * later commit on top of it could reach a counter some cache already saw with other pages. So the
 * restored page 1 gets the head's counter + 1 (and the same in version-valid-for, bytes 92–95).
 */
export async function restoreDatabase(store: Store, agent: string, db: string, at: Version, meta: CommitMeta): Promise<{ version: Version | null; before: Version }> {
  checkDbName(db);
  const ns = await store.namespace(dbNamespace(agent, db));
  const isHeader = (key: LogicalKey, ...values: Array<StoreValue | undefined>): boolean =>
    key[0] === 'p' && key[1] === 0 && values.every((v) => !(v instanceof BlobRef));
  const r = await ns.restore(at, meta, {
    transform: (key, past, head) => {
      if (!isHeader(key, past, head)) return past;
      const page = Buffer.from(decodePage(past as Buffer));
      const counter = Math.max(head ? decodePage(head as Buffer).readUInt32BE(24) : 0, page.readUInt32BE(24));
      page.writeUInt32BE((counter + 1) >>> 0, 24);
      page.writeUInt32BE((counter + 1) >>> 0, 92);
      return encodePage(page);
    },
    // page 1 as it was, but for the counters: not a change by itself (restoring to the state the
    // database is in commits nothing)
    equivalent: (key, past, head) => isHeader(key, past, head) && withoutCounters(past as Buffer).equals(withoutCounters(head as Buffer)),
  });
  return { version: r.version, before: r.before };
}

/** Page 1 with its change counter and version-valid-for number zeroed. */
function withoutCounters(stored: Buffer): Buffer {
  const page = Buffer.from(decodePage(stored));
  page.fill(0, 24, 28);
  page.fill(0, 92, 96);
  return page;
}
