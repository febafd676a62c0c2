import http from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { listAgents } from '../fs/agents.js';
import type { Store } from '../store/index.js';
import { DAV_PREFIX, DavService } from '../webdav/handler.js';

export interface ServerOptions {
  store: Store;
  logger: Logger;
  auth: boolean;
  maxUploadBytes?: number;
}

/**
 * The timefs HTTP server: WebDAV for every agent at /dav/<agent>/ (webdav-server speaks raw Node
 * HTTP, so those requests bypass fastify's router and body parsing), everything else on fastify.
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
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/', async () => ({
    name: 'timefs',
    webdav: `${DAV_PREFIX}<agent>/`,
    agents: options.auth ? undefined : (await listAgents(options.store)).map((a) => a.name),
  }));
  return app;
}
