import type { Command } from 'commander';
import { listApps } from '../../apps/manifest.js';
import { parseVersion } from '../../fs/index.js';
import { agentVersionOf } from '../../apps/version-at.js';
import { listDatabases, openAgentDb, restoreDatabase } from '../../sqlvfs/names.js';
import { SqliteError, jsonSqlValue, type SqlValue } from '../../sqlvfs/wasm.js';
import { UserError } from '../../util/errors.js';
import { action } from '../context.js';

const show = (v: SqlValue): string => (v === null ? 'NULL' : v instanceof Uint8Array ? `<${v.length} bytes>` : String(v));

export function registerAppCommands(program: Command): void {
  const apps = program.command('apps').description("the agent's web apps (/apps/<name>/app.json), served by `timefs serve` at /apps/<agent>/<name>/");
  apps
    .command('ls', { isDefault: true })
    .description('list apps and their databases')
    .action(
      action(async (ctx) => {
        const fs = await ctx.fs();
        const list = await listApps(fs);
        const dbs = await listDatabases(await ctx.openStore(), fs.agent);
        if (ctx.options.json) return ctx.json({ apps: list, databases: dbs });
        if (list.length === 0) ctx.print('(no apps: an app is a folder /apps/<name>/ with an app.json)');
        for (const a of list) {
          if (a.manifest) ctx.print(`${a.name.padEnd(20)} /apps/${fs.agent}/${a.name}/  database: ${a.manifest.database}${dbs.includes(a.manifest.database) ? '' : ' (not created yet)'}`);
          else ctx.print(`${a.name.padEnd(20)} INVALID: ${a.error?.split('\n')[0]}`);
        }
      }),
    );

  apps
    .command('restore-db')
    .description('put an app database back exactly as it was at a version or time (one commit; the state it replaces stays readable)')
    .argument('<db>', 'database name')
    .argument('<when...>', 'a 20-hex version or a time ("yesterday 17:00", RFC 3339)')
    .action(
      action(async (ctx, db: string, when: string[]) => {
        const fs = await ctx.fs();
        const store = await ctx.openStore();
        const dbs = await listDatabases(store, fs.agent);
        if (!dbs.includes(db)) throw new UserError(`no database '${db}'${dbs.length ? ` (the databases are: ${dbs.join(', ')})` : ''}: see timefs apps ls`);
        const at = await agentVersionOf(fs, when.join(' '));
        const r = await restoreDatabase(store, fs.agent, db, at, { actor: 'cli', summary: `restore-db ${db} to ${at}` });
        if (ctx.options.json) return ctx.json({ db, restoredTo: at, version: r.version, before: r.before });
        if (r.version === null) ctx.print(`${db} already is as it was at ${at} (nothing changed: no new version)`);
        else ctx.print(`restored ${db} as it was at ${at}, at version ${r.version}; what it held before: timefs sql ${db} "…" --version ${r.before}`);
      }),
    );

  program
    .command('sql')
    .description("run SQL on one of the agent's app databases (at head, or read-only at --version)")
    .argument('<db>', 'database name')
    .argument('<sql>', 'SQL; several statements separated by ;')
    .option('--version <v>', 'query the database as it was at this version (read-only)')
    .option('-p, --param <value...>', 'values for ? placeholders (strings; numbers as written)')
    .action(
      action(async (ctx, db: string, sql: string, opts: { version?: string; param?: string[] }) => {
        const fs = await ctx.fs();
        const store = await ctx.openStore();
        const version = opts.version ? parseVersion(opts.version) : undefined;
        const params = (opts.param ?? []).map((p) => (/^-?\d+(\.\d+)?$/.test(p) ? Number(p) : p));
        let conn;
        try {
          conn = await openAgentDb(store, fs.agent, db, { actor: 'cli', ...(version ? { version } : {}) });
        } catch (err) {
          if (err instanceof SqliteError) throw new UserError(err.message);
          throw err;
        }
        try {
          const r = await conn.queryRetry(sql, params);
          if (ctx.options.json) return ctx.json({ columns: r.columns, rows: r.rows.map((row) => row.map(jsonSqlValue)), changes: r.changes, version: conn.committed });
          if (r.columns.length > 0) {
            ctx.print(r.columns.join('\t'));
            for (const row of r.rows) ctx.print(row.map(show).join('\t'));
          } else ctx.print(`${r.changes} row(s) changed${conn.committed ? ` (version ${conn.committed})` : ''}`);
        } catch (err) {
          if (err instanceof SqliteError) throw new UserError(`SQL error: ${err.message}`);
          throw err;
        } finally {
          conn.close();
        }
      }),
    );
}
