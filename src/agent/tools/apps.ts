import { z } from 'zod';
import { readManifest, appRoot } from '../../apps/manifest.js';
import { AppSandbox } from '../../apps/sandbox.js';
import { fsError } from '../../fs/errors.js';
import { parseTimeSpec } from '../../fs/timespec.js';
import { isVersionString, parseVersion, type Version } from '../../fs/index.js';
import { agentVersionOf } from '../../apps/version-at.js';
import { dbNamespace, listDatabases, openAgentDb, restoreDatabase } from '../../sqlvfs/names.js';
import { SqliteError, type SqlValue } from '../../sqlvfs/wasm.js';
import { defineTool } from '../tool.js';
import { plural } from '../limits.js';

/** Where apps are reachable, for the URL DeployApp returns (set by `timefs serve`). */
export const publicBaseUrl = (): string | undefined => process.env.TIMEFS_PUBLIC_URL?.replace(/\/+$/, '');

const checker = new AppSandbox();
const MAX_ROWS = 200;
const MAX_CELL = 500;

export const DeployApp = defineTool({
  name: 'DeployApp',
  description:
    'Deploy a web app from /apps/<name>/: checks /apps/<name>/app.json ({"name", "static"?: "public", "api"?: "api", "database"?: name}), compiles every handler in the api folder (ES modules: `export default function (req, db) { return { json: db.query("select …", [..]) } }`, req = {method, path, query, headers, body, json}), creates the app database, and returns the URL. Static files come from the static folder (index.html at the root); /api/<x> runs <api>/<x>.js. Handlers can only use `db.query(sql, params)` and `db.exec(sql, params)` — no network, no files.',
  input: z.strictObject({ name: z.string().min(1).describe('The app folder name under /apps') }),
  readOnly: false,
  async run({ fs }, args) {
    const view = await fs.view();
    let manifest;
    try {
      manifest = await readManifest(view, args.name);
    } catch (err) {
      throw fsError('EINVAL', (err as Error).message, `${appRoot(args.name)}/app.json`);
    }
    const root = appRoot(args.name);
    const notes: string[] = [];
    try {
      await view.resolve(['apps', args.name, ...manifest.static.split('/'), 'index.html'], true);
    } catch {
      notes.push(`no ${root}/${manifest.static}/index.html: the app's root URL will answer 404`);
    }
    const handlers: string[] = [];
    try {
      const apiDir = await view.resolve(['apps', args.name, ...manifest.api.split('/')], true);
      for await (const { rel, entry, inode } of view.walk(apiDir.ino)) {
        if (inode.type !== 'file' || !rel.endsWith('.js')) continue;
        const code = (await view.readContent(entry.ino, inode, 0, inode.size)).toString('utf8');
        await checker.check(code, `${root}/${manifest.api}/${rel}`).catch((err: Error) => {
          throw fsError('EINVAL', `handler does not compile: ${err.message}`, `${root}/${manifest.api}/${rel}`);
        });
        handlers.push(`/api/${rel.slice(0, -3)}`);
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    const db = await openAgentDb(fs.store, fs.agent, manifest.database, { actor: 'tool:DeployApp' });
    db.close();
    const path = `/apps/${fs.agent}/${args.name}/`;
    const base = publicBaseUrl();
    return {
      text: [
        `Deployed ${args.name}: ${base ? `${base}${path}` : `${path} on the timefs server`}`,
        `handlers: ${handlers.length ? handlers.join(', ') : 'none'}; database: ${manifest.database} (use the Sql tool to create tables)`,
        `any past version V of the app (code and data) is at ${path.slice(0, -1)}@V/`,
        ...notes.map((n) => `note: ${n}`),
      ].join('\n'),
      version: null,
    };
  },
});

const cell = (v: SqlValue): string => {
  if (v === null) return 'NULL';
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  const s = String(v);
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL)}…` : s;
};

export const Sql = defineTool({
  name: 'Sql',
  description:
    "Run SQL (SQLite) on one of your app databases: create the schema, seed data, inspect it — now, or at any past `version` (read-only). Parameters bind to ? placeholders. The database is created by its first write. Each write is one commit, like file changes.",
  input: z.strictObject({
    db: z.string().min(1).describe('Database name (an app uses the one its app.json names, by default the app name)'),
    sql: z.string().min(1).describe('SQL; several statements may be separated by ;'),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).optional().describe('Values for ? placeholders'),
    version: z.string().min(1).optional().describe('Query the database as it was: a 20-hex version or a time ("yesterday"); read-only'),
  }),
  readOnly: false,
  async run({ fs }, args) {
    let version: Version | undefined;
    if (args.version !== undefined) {
      if (isVersionString(args.version.trim())) version = parseVersion(args.version.trim());
      else {
        const when = await parseTimeSpec(args.version, new Date(fs.store.clock()));
        const ns = await fs.store.namespace(dbNamespace(fs.agent, args.db)).catch(() => {
          throw fsError('ENOENT', `no database '${args.db}'`);
        });
        version = (await ns.versionAt(when)) as Version;
      }
    }
    let db;
    try {
      db = await openAgentDb(fs.store, fs.agent, args.db, { actor: 'tool:Sql', ...(version ? { version } : {}) });
    } catch (err) {
      if (err instanceof SqliteError) throw fsError('EINVAL', err.message);
      throw err;
    }
    try {
      const params = (args.params ?? []).map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
      const r = await db.queryRetry(args.sql, params);
      const at = version ? ` (at version ${version})` : '';
      if (r.columns.length === 0) {
        return { text: `OK${at}: ${plural(r.changes, 'row')} changed${db.committed ? ` (version ${db.committed})` : ''}`, version: db.committed };
      }
      const shown = r.rows.slice(0, MAX_ROWS);
      const lines = [r.columns.join(' | '), ...shown.map((row) => row.map(cell).join(' | '))];
      if (r.rows.length > MAX_ROWS) lines.push(`[${r.rows.length - MAX_ROWS} more rows not shown: add LIMIT/OFFSET or a WHERE clause]`);
      lines.push(`[${plural(r.rows.length, 'row')}${at}]`);
      return { text: lines.join('\n'), version: db.committed };
    } catch (err) {
      if (err instanceof SqliteError) throw fsError('EINVAL', `SQL error: ${err.message}`);
      throw err;
    } finally {
      db.close();
    }
  },
});

export const RestoreDatabase = defineTool({
  name: 'RestoreDatabase',
  description:
    'Put an app database back exactly as it was at a version or time — every table and row — as one commit: how to undo a wrong DELETE, UPDATE or DROP. Look first with Sql(db, "SELECT …", version). Nothing is lost: the state it replaces stays readable at the version the result names.',
  input: z.strictObject({
    db: z.string().min(1).describe('Database name'),
    version: z.string().min(1).describe('A 20-hex version (from GetVersionAtTimestamp, or a version an earlier result named) or a time ("yesterday", "2026-11-22T10:00:00Z")'),
  }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const dbs = await listDatabases(fs.store, fs.agent);
    if (!dbs.includes(args.db)) {
      throw fsError('ENOENT', `no database '${args.db}'${dbs.length ? ` (the databases are: ${dbs.join(', ')})` : ' (there are no databases yet)'}`);
    }
    const at = await agentVersionOf(fs, args.version);
    const r = await restoreDatabase(fs.store, fs.agent, args.db, at, { actor: 'tool:RestoreDatabase', summary });
    if (r.version === null) return { text: `Database ${args.db} already is as it was at version ${at}: nothing changed`, version: null };
    return {
      text: `Restored database ${args.db} to how it was at version ${at} (version ${r.version}). What it held just before is readable with Sql(db="${args.db}", sql="SELECT …", version="${r.before}").`,
      version: r.version,
    };
  },
});
