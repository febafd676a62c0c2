import type { Command } from 'commander';
import { AgentHost } from '../../agent/host.js';
import { serveStdio } from '../../mcp/stdio.js';
import { action } from '../context.js';

export function registerAgentCommands(program: Command): void {
  program
    .command('mcp')
    .description("serve the agent's tools to an MCP client over stdio (e.g. claude mcp add timefs -- timefs mcp -a NAME)")
    .action(
      action(async (ctx) => {
        const store = await ctx.openStore();
        await ctx.fs(); // creates 'default' on first use; other agents must exist
        const host = new AgentHost(store);
        await serveStdio(host, ctx.options.agent);
        await host.close();
      }),
    );
}
