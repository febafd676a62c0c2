import http from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { listAgents } from '../fs/agents.js';
import type { Store } from '../store/index.js';
import { DAV_PREFIX, DavService } from '../webdav/handler.js';
import { AgentHost } from '../agent/host.js';
import { mcpRoutes } from '../mcp/http.js';
import { apiRoutes } from './api.js';
import { appRoutes } from '../apps/serve.js';
import { TokenVerifier } from './auth.js';

export interface ServerOptions {
  store: Store;
  logger: Logger;
  auth: boolean;
  maxUploadBytes?: number;
  /** runs tool calls for /api and /mcp (default: one made here, closed with the server) */
  host?: AgentHost;
}

/**
 * The timefs HTTP server: WebDAV for every agent at /dav/<agent>/ (webdav-server speaks raw Node
 * HTTP, so those requests bypass fastify's router and body parsing); the agent tools over MCP at
 * /mcp/<agent> and as plain HTTP at /api/agents/<agent>/tools/<Tool>.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance<http.Server>> {
  const davService = new DavService(options.store, {
    auth: options.auth,
    logger: options.logger,
    ...(options.maxUploadBytes ? { maxUploadBytes: options.maxUploadBytes } : {}),
  });
  const app = Fastify({
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    serverFactory: (handler) =>
      http.createServer((req, res) => {
        if (req.url?.startsWith(DAV_PREFIX) || req.url === '/dav') {
          davService.handle(req, res).catch((err: unknown) => {
            options.logger.error({ err, method: req.method, url: req.url }, 'webdav request failed');
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('internal error\n');
          });
          return;
        }
        handler(req, res);
      }),
  });
  const host = options.host ?? new AgentHost(options.store);
  if (!options.host) app.addHook('onClose', async () => host.close());
  const verifier = new TokenVerifier();
  const access = { store: options.store, host, verifier, auth: options.auth };
  await app.register(apiRoutes, access);
  await app.register(mcpRoutes, access);
  await app.register(appRoutes, { store: options.store, logger: options.logger });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/', async () => ({
    name: 'timefs',
    webdav: `${DAV_PREFIX}<agent>/`,
    mcp: '/mcp/<agent>',
    tools: '/api/tools',
    call: 'POST /api/agents/<agent>/tools/<Tool>',
    apps: '/apps/<agent>/<app>/',
    agents: options.auth ? undefined : (await listAgents(options.store)).map((a) => a.name),
  }));
  return app;
}
