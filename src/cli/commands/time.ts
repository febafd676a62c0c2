import { agentVersionAt } from '../../apps/version-at.js';
import { dbNamespace, listDatabases } from '../../sqlvfs/names.js';
import type { Command } from 'commander';
import { parseTimeSpec } from '../../fs/timespec.js';
import { readVersionOf } from '../../store/version.js';
import { action } from '../context.js';
import { isoTime } from '../format.js';

export function registerTimeCommands(program: Command): void {
  program
    .command('log')
    .description('the commit log, newest first (with PATH: only commits that touched it)')
    .argument('[path]')
    .option('-n, --limit <n>', 'at most this many entries', '20')
    .option('--since <time>', 'only commits at or after this time ("2 days ago", RFC 3339)')
    .action(
      action(async (ctx, path: string | undefined, opts: { limit: string; since?: string }) => {
        const fs = await ctx.fs();
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive integer, got '${opts.limit}'`);
        const since = opts.since ? await parseTimeSpec(opts.since, new Date()) : undefined;
        // paths: what the commit touched, as its log record keeps them (the first 256)
        type Row = { version: string; time: number; actor: string; summary: string; paths?: string[]; db?: string };
        let rows: Row[] = path
          ? (await fs.history(path, { limit })).entries.map((e) => ({ version: e.version, time: e.time.getTime(), actor: e.actor, summary: e.summary }))
          : (await fs.log({ limit, ...(since ? { since } : {}) })).map((r) => ({ version: readVersionOf(r.version), time: r.time, actor: r.actor, summary: r.summary, paths: r.paths }));
        if (!path) {
          // app databases are namespaces of their own; versions are store-wide, so one log interleaves them
          const store = await ctx.openStore();
          for (const db of await listDatabases(store, fs.agent)) {
            const recs = await (await store.namespace(dbNamespace(fs.agent, db))).log({ limit, ...(since ? { since } : {}) });
            rows.push(...recs.map((r) => ({ version: readVersionOf(r.version), time: r.time, actor: r.actor, summary: `[db ${db}] ${r.summary}`, db })));
          }
          rows = rows.sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0)).slice(0, limit);
        }
        if (since) rows = rows.filter((r) => r.time >= since.getTime());
        if (ctx.options.json) return ctx.json(rows);
        for (const r of rows) ctx.print(`${r.version}  ${isoTime(r.time)}  ${r.actor.padEnd(12)} ${r.summary}`);
        if (rows.length === 0) process.stderr.write(`timefs: no commits${path ? ` touched ${path}` : ''}${since ? ` since ${since.toISOString()}` : ''}\n`);
      }),
    );

  program
    .command('history')
    .description('the versions at which PATH (or anything under it) changed, newest first')
    .argument('<path>')
    .option('-n, --limit <n>', 'entries per page', '50')
    .option('--before <version>', 'continue from this version (pagination)')
    .action(
      action(async (ctx, path: string, opts: { limit: string; before?: string }) => {
        const fs = await ctx.fs();
        const before = opts.before ? await fs.resolveVersion(opts.before) : undefined;
        const page = await fs.history(path, { limit: Number(opts.limit), ...(before ? { before } : {}) });
        if (ctx.options.json) return ctx.json(page);
        for (const e of page.entries) ctx.print(`${e.version}  ${isoTime(e.time.getTime())}  ${e.actor.padEnd(12)} ${e.summary}`);
        if (page.entries.length === 0) process.stderr.write(`timefs: no commits touched ${path}${before ? ` before ${before}` : ''}\n`);
        if (page.next) ctx.print(`… more: timefs history ${path} --before ${page.next}`);
      }),
    );

  program
    .command('diff')
    .description('what changed in PATH between two versions or times (B defaults to now)')
    .argument('<path>')
    .argument('<a>', 'version or time ("yesterday", RFC 3339)')
    .argument('[b]', 'version or time (default: head)')
    .action(
      action(async (ctx, path: string, a: string, b: string | undefined) => {
        const fs = await ctx.fs();
        const va = await fs.resolveVersion(a);
        const vb = b ? await fs.resolveVersion(b) : undefined;
        const d = await fs.diff(path, va, vb);
        if (ctx.options.json) return ctx.json(d);
        if (d.kind === 'text') ctx.print(d.changed ? d.patch : `no changes in ${path}`);
        else if (d.kind === 'binary') {
          ctx.print(d.changed ? `binary ${path}: ${d.from.exists ? `${d.from.size} bytes` : 'absent'} -> ${d.to.exists ? `${d.to.size} bytes` : 'absent'}` : `no changes in ${path}`);
        } else {
          for (const p of d.added) ctx.print(`A ${p}`);
          for (const p of d.removed) ctx.print(`D ${p}`);
          for (const p of d.modified) ctx.print(`M ${p}`);
          if (!d.added.length && !d.removed.length && !d.modified.length) ctx.print(`no changes under ${path}`);
        }
      }),
    );

  program
    .command('version-at')
    .description('the version at a time: RFC 3339 or natural language ("3 days ago"), UTC unless a zone is given')
    .argument('<time...>')
    .action(
      action(async (ctx, words: string[]) => {
        const fs = await ctx.fs();
        // the moment for the files and the app databases alike
        ctx.print(await agentVersionAt(fs, await parseTimeSpec(words.join(' '), new Date(fs.store.clock()))));
      }),
    );
}
