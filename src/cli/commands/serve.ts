import type { Command } from 'commander';
import { AgentFs } from '../../fs/agentfs.js';
import { createToken } from '../../server/auth.js';
import { buildServer } from '../../server/app.js';
import { createLogger } from '../../util/logger.js';
import { CliContext, action } from '../context.js';

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve every agent: WebDAV at /dav/<agent>/, MCP at /mcp/<agent>, tool calls at /api/agents/<agent>/tools/<Tool>')
    .option('--host <host>', 'address to bind (default: loopback only)', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', process.env.PORT ?? '8080')
    .option('--no-auth', 'serve without credentials (local development only)')
    .action(async (opts: { host: string; port: string; auth: boolean }, cmd: Command) => {
      const ctx = CliContext.of(cmd);
      const logger = createLogger('timefs', 'info');
      const store = await ctx.openStore();
      await AgentFs.open(store, ctx.options.agent === 'default' ? 'default' : ctx.options.agent, { create: ctx.options.agent === 'default' });
      if (!opts.auth) logger.warn('AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port can read and write every agent');
      const app = await buildServer({ store, logger, auth: opts.auth });
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port '${opts.port}'`);
      const address = await app.listen({ host: opts.host, port });
      process.env.TIMEFS_PUBLIC_URL ??= address; // DeployApp answers with full URLs
      logger.info(
        { url: address, webdav: `${address}/dav/<agent>/`, mcp: `${address}/mcp/<agent>`, api: `${address}/api/agents/<agent>/tools/<Tool>` },
        `timefs serving ${address}: WebDAV /dav/<agent>/, MCP /mcp/<agent>, tools POST /api/agents/<agent>/tools/<Tool> (data: ${ctx.options.data ?? process.env.TIMEFS_DATA ?? '.timefs'})`,
      );
      if (opts.auth) {
        logger.info(`credentials: a token from \`timefs agents token <agent>\` — HTTP Basic (user = agent name, password = token) or Authorization: Bearer <token>`);
      }
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        app
          .close()
          .then(() => ctx.close())
          .then(() => process.exit(0), (err: unknown) => {
            logger.error({ err }, 'unclean shutdown');
            process.exit(1);
          });
      };
      // webdav-server throws inside its own async callbacks, where no request handler can catch it.
      // Every change is committed atomically in the store, so one broken request must not take the
      // server (and every other agent's session) down: log it loudly and keep serving.
      process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (a bug; the server keeps serving)'));
      process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection (a bug; the server keeps serving)'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  const agents = program.commands.find((c) => c.name() === 'agents');
  agents
    ?.command('token')
    .description('create an access token for an agent (HTTP Basic: user = agent, password = token)')
    .argument('<name>')
    .action(
      action(async (ctx, name: string) => {
        // the agent 'default' is created on first use, as by every other command (context.ts)
        const fs = await AgentFs.open(await ctx.openStore(), name, { create: name === 'default' });
        ctx.print(await createToken(fs));
      }),
    );
}
