import type { Command } from 'commander';
import { AgentFs } from '../../fs/agentfs.js';
import { checkAgentName, deleteAgent, listAgents } from '../../fs/agents.js';
import { agentNamespace } from '../../fs/agents.js';
import { dbNamespace, listDatabases } from '../../sqlvfs/names.js';
import { action } from '../context.js';
import { isoTime } from '../format.js';
import { progress } from '../progress.js';

const DAY = 24 * 3600 * 1000;

export function registerAdminCommands(program: Command): void {
  program
    .command('gc')
    .description('drop history older than each agent\'s retention window (default 30 days) and unused chunks')
    .option('--grace <seconds>', 'keep unreferenced chunks younger than this (uploads in flight)', '3600')
    .action(
      action(async (ctx, opts: { grace: string }) => {
        const store = await ctx.openStore();
        const bar = progress('gc', 'namespaces', ctx.logger);
        let sized = false;
        const report = await store.gc({
          graceMs: Number(opts.grace) * 1000,
          onProgress: (e) => {
            if (e.phase === 'trim') {
              if (!sized && e.total) {
                bar.total(e.total);
                sized = true;
              }
              bar.tick(1, e.namespace ?? '');
            }
          },
        });
        bar.stop();
        if (ctx.options.json) return ctx.json(report);
        ctx.print(
          `gc: ${report.namespaces} namespaces, ${report.versionsRemoved} old versions and ${report.logRecordsRemoved} log records removed, ` +
            `${report.chunksRemoved} chunks removed, ${report.chunksKept} kept`,
        );
      }),
    );

  const agents = program.command('agents').description('list, create and delete agents (each has its own versioned filesystem)');
  agents
    .command('list', { isDefault: true })
    .description('list agents')
    .action(
      action(async (ctx) => {
        const list = await listAgents(await ctx.openStore());
        if (ctx.options.json) return ctx.json(list);
        if (list.length === 0) ctx.print('no agents yet (create one: timefs agents create NAME)');
        for (const a of list) ctx.print(`${a.name.padEnd(24)} created ${isoTime(a.created.getTime())}  retention ${Math.round(a.retentionMs / DAY)} days`);
      }),
    );
  agents
    .command('create')
    .description('create an agent')
    .argument('<name>')
    .option('--retention <days>', 'keep history this many days (default: 30)')
    .action(
      action(async (ctx, name: string, opts: { retention?: string }) => {
        checkAgentName(name);
        const store = await ctx.openStore();
        if (await store.hasNamespace(agentNamespace(name))) throw new Error(`agent '${name}' already exists`);
        await AgentFs.open(store, name, { create: true, actor: 'cli' });
        if (opts.retention !== undefined) {
          const days = Number(opts.retention);
          if (!Number.isFinite(days) || days < 0) throw new Error(`--retention must be a number of days, got '${opts.retention}'`);
          await store.setRetention(agentNamespace(name), days * DAY);
        }
        ctx.print(`created agent ${name}`);
      }),
    );
  agents
    .command('delete')
    .description('delete an agent and ALL its history (cannot be undone)')
    .argument('<name>')
    .option('--yes', 'confirm')
    .action(
      action(async (ctx, name: string, opts: { yes?: boolean }) => {
        if (!opts.yes) throw new Error(`deleting agent '${name}' erases all of its history; add --yes to confirm`);
        const store = await ctx.openStore();
        await deleteAgent(store, name);
        const dbs = await listDatabases(store, name);
        for (const db of dbs) await store.deleteNamespace(dbNamespace(name, db));
        ctx.print(`deleted agent ${name}${dbs.length ? ` and its databases ${dbs.join(', ')}` : ''}`);
      }),
    );
}
