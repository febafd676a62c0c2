import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import mime from 'mime-types';
import { AgentFs } from '../fs/agentfs.js';
import { AGENT_NAME_RE, agentNamespace } from '../fs/agents.js';
import { FsError } from '../fs/errors.js';
import { parsePath } from '../fs/path.js';
import type { FsView } from '../fs/view.js';
import { serveFile } from '../http/file.js';
import { Lru } from '../util/lru.js';
import { openAgentDb } from '../sqlvfs/names.js';
import type { SqlDatabase } from '../sqlvfs/database.js';
import { jsonSqlValue } from '../sqlvfs/wasm.js';
import type { Store, Version } from '../store/index.js';
import { isVersionString, parseVersion } from '../store/version.js';
import type { Logger } from 'pino';
import { AppError, appRoot, readManifest, type AppManifest } from './manifest.js';
import { AppSandbox, HandlerError, type DbCapability, type HandlerRequest } from './sandbox.js';

export interface AppsOptions {
  store: Store;
  logger: Logger;
  sandbox?: AppSandbox;
  /** largest request body a handler gets (default 1 MiB) */
  bodyLimit?: number;
}


function capability(db: SqlDatabase): DbCapability {
  const params = (p: unknown) => (Array.isArray(p) || (p !== null && typeof p === 'object') ? (p as never) : []);
  return {
    query: (sql, p) => db.all(sql, params(p)).map((row) => Object.fromEntries(Object.entries(row).map(([c, v]) => [c, jsonSqlValue(v)]))),
    exec: (sql, p) => ({ changes: db.query(sql, params(p)).changes }),
  };
}

/**
 * Serves agents' web apps at /apps/<agent>/<app>/: static files from the app's folder, handlers
 * from its api folder run in the sandbox with SQL on the app's database. `/apps/<agent>/<app>@<V>/`
 * (or `?version=V`, which redirects there so relative links keep the version) serves the app as
 * it was at V — code, files and data — read-only.
 */
export async function appRoutes(app: FastifyInstance, options: AppsOptions): Promise<void> {
  const { store } = options;
  const sandbox = options.sandbox ?? new AppSandbox();
  const heads = new Map<string, SqlDatabase>();
  const fsCache = new Lru<string, AgentFs>(1000);
  app.addHook('onClose', async () => {
    for (const db of heads.values()) db.close();
    heads.clear();
    if (!options.sandbox) sandbox.dispose();
  });
  // handlers get the raw body as text, whatever its type
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: options.bodyLimit ?? 1024 * 1024 }, (_req, body, done) => done(null, body));

  const agentFs = async (agent: string): Promise<AgentFs> => {
    let fs = fsCache.get(agent);
    if (!fs) {
      fs = await AgentFs.open(store, agent);
      fsCache.set(agent, fs);
    }
    return fs;
  };

  const headDb = async (agent: string, name: string): Promise<SqlDatabase> => {
    const key = `${agent}/${name}`;
    let db = heads.get(key);
    if (!db) {
      db = await openAgentDb(store, agent, name, { actor: `app:${name}` });
      heads.set(key, db);
      if (heads.size > 256) {
        const [k, old] = heads.entries().next().value as [string, SqlDatabase];
        heads.delete(k);
        old.close();
      }
    }
    return db;
  };

  const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);

  const handle = async (req: FastifyRequest<{ Params: { agent: string; app: string; '*'?: string } }>, reply: FastifyReply) => {
    const { agent } = req.params;
    if (!AGENT_NAME_RE.test(agent) || !(await store.hasNamespace(agentNamespace(agent)))) return fail(reply, 404, `no such agent '${agent}'`);
    const at = req.params.app.lastIndexOf('@');
    const name = at > 0 ? req.params.app.slice(0, at) : req.params.app;
    const selector = at > 0 ? req.params.app.slice(at + 1) : null;
    if (selector !== null && !isVersionString(selector)) return fail(reply, 400, `'@${selector}' is not a version: use 20 hex characters, e.g. ${name}@00003a6ed63a7951ffff`);
    const rest = req.params['*'] ?? '';
    const url = new URL(req.url, 'http://x');
    const qv = url.searchParams.get('version');
    if (qv !== null) {
      if (!isVersionString(qv)) return fail(reply, 400, `?version=${qv} is not a version: use 20 hex characters`);
      url.searchParams.delete('version');
      const search = url.searchParams.toString();
      return reply.redirect(`/apps/${agent}/${name}@${qv.toLowerCase()}/${rest}${search ? `?${search}` : ''}`, 302);
    }
    const version: Version | undefined = selector ? parseVersion(selector) : undefined;
    const fs = await agentFs(agent);
    let view: FsView;
    try {
      view = await fs.view(version);
    } catch (err) {
      return fail(reply, 404, (err as Error).message);
    }
    let manifest: AppManifest;
    try {
      manifest = await readManifest(view, name);
    } catch (err) {
      if (err instanceof AppError) return fail(reply, err.status, err.message);
      throw err;
    }
    const cache = version ? 'public, max-age=31536000, immutable' : 'no-cache';
    const root = appRoot(name);
    if (rest === 'api' || rest.startsWith('api/')) return runHandler(req, reply, { agent, name, manifest, view, version, rest, root });
    // static files
    let rel = rest === '' || rest.endsWith('/') ? `${rest}index.html` : rest;
    let parsed;
    try {
      parsed = parsePath(`${root}/${manifest.static}/${rel}`);
      if (parsed.selector) return fail(reply, 400, 'put the version on the app (/apps/<agent>/<app>@<version>/), not on a file');
      let r = await view.resolve(parsed.names, true, parsed.path);
      if (r.inode.type === 'dir') {
        if (!rest.endsWith('/') && rest !== '') return reply.redirect(`${url.pathname}/`, 301);
        rel = `${rel}/index.html`;
        parsed = parsePath(`${root}/${manifest.static}/${rel}`);
        r = await view.resolve(parsed.names, true, parsed.path);
      }
      if (r.inode.type !== 'file') return fail(reply, 404, `not a file: /${rel}`);
      reply.hijack();
      const type = mime.lookup(rel);
      await serveFile(view, r.ino, r.inode, req.raw, reply.raw, parsed, {
        'Cache-Control': cache,
        ...(type ? { 'Content-Type': mime.contentType(type) || type } : {}),
      });
    } catch (err) {
      if (err instanceof FsError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return fail(reply, 404, `not found: /${rel}`);
      throw err;
    }
  };

  const runHandler = async (
    req: FastifyRequest,
    reply: FastifyReply,
    ctx: { agent: string; name: string; manifest: AppManifest; view: FsView; version: Version | undefined; rest: string; root: string },
  ) => {
    const sub = ctx.rest.replace(/^api\/?/, '').replace(/\/+$/, '');
    if (sub === '' || sub.split('/').some((s) => s === '..' || s === '.' || s === '')) return fail(reply, 404, 'no handler here: /api/<name> runs <api folder>/<name>.js');
    const file = `${ctx.root}/${ctx.manifest.api}/${sub}.js`;
    let code: string;
    try {
      const p = parsePath(file);
      const r = await ctx.view.resolve(p.names, true, file);
      if (r.inode.type !== 'file') throw new FsError('ENOENT', 'not a file', file);
      code = (await ctx.view.readContent(r.ino, r.inode, 0, Math.min(r.inode.size, 1024 * 1024))).toString('utf8');
    } catch (err) {
      if (err instanceof FsError) return reply.code(404).send({ error: `no handler for /api/${sub} (${file} not found)` });
      throw err;
    }
    let db: SqlDatabase;
    try {
      db = ctx.version ? await openAgentDb(store, ctx.agent, ctx.manifest.database, { version: ctx.version }) : await headDb(ctx.agent, ctx.manifest.database);
    } catch (err) {
      return reply.code(503).send({ error: `the app database '${ctx.manifest.database}' cannot be opened: ${(err as Error).message}` });
    }
    const body = typeof req.body === 'string' ? req.body : null;
    let json: unknown;
    if (body && /json/i.test(String(req.headers['content-type'] ?? ''))) {
      try {
        json = JSON.parse(body);
      } catch {
        return reply.code(400).send({ error: 'the request body is not valid JSON' });
      }
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'authorization' && k !== 'cookie') headers[k] = v;
    const request: HandlerRequest = {
      method: req.method,
      path: `/api/${sub}`,
      query: Object.fromEntries(new URL(req.url, 'http://x').searchParams),
      headers,
      body,
      ...(json !== undefined ? { json } : {}),
      version: ctx.version ?? null,
    };
    try {
      const res = await sandbox.run(`${ctx.agent}/${ctx.name}`, code, file, request, capability(db));
      return reply.code(res.status).headers({ ...res.headers, 'cache-control': ctx.version ? 'public, max-age=31536000, immutable' : 'no-store' }).send(res.body);
    } catch (err) {
      if (err instanceof HandlerError) {
        options.logger.warn({ agent: ctx.agent, app: ctx.name, file, err: err.message }, 'app handler failed');
        return reply.code(err.status).send({ error: err.message });
      }
      throw err;
    } finally {
      if (ctx.version) db.close();
      else if (db.inTransaction) {
        db.query('ROLLBACK');
        options.logger.warn({ agent: ctx.agent, app: ctx.name, file }, 'handler left a transaction open; rolled back');
      }
    }
  };

  app.get('/apps/:agent', async (req: FastifyRequest<{ Params: { agent: string } }>, reply) => reply.redirect(`/apps/${req.params.agent}/`, 301));
  app.all('/apps/:agent/:app', async (req: FastifyRequest<{ Params: { agent: string; app: string } }>, reply) =>
    reply.redirect(`/apps/${req.params.agent}/${req.params.app}/${new URL(req.url, 'http://x').search}`, 301),
  );
  app.all('/apps/:agent/:app/*', handle);
}
