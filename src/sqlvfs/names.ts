import { StoreError, type Store, type Version } from '../store/index.js';
import { SqlDatabase, type OpenDbOptions } from './database.js';
import { SqliteError } from './wasm.js';
import { C } from './constants.js';

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
