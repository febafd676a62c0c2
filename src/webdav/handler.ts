import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AgentFs } from '../fs/agentfs.js';
import { AGENT_NAME_RE } from '../fs/agents.js';
import { FsError, fromStoreError } from '../fs/errors.js';
import { parentOf, parsePath, type ParsedPath } from '../fs/path.js';
import { BlockStager } from '../fs/stream.js';
import type { FsView } from '../fs/view.js';
import type { Inode } from '../fs/types.js';
import { pipeline } from 'node:stream/promises';
import { statusOf } from './errors.js';
import { TokenVerifier, authorizeAgent } from '../server/auth.js';
import type { Store } from '../store/index.js';
import { Lru } from '../util/lru.js';
import { AgentDavFileSystem } from './davfs.js';
import { dav, type WebDAVServer } from './lib.js';
import { evaluateIf, installIfHeaderFix, parseIfLists } from './ifheader.js';
import { LockMethod, UnlockMethod, submittedTokens } from './locks.js';
import { serveFile } from '../http/file.js';
import { PropfindMethod, encodeHref, etagOf } from './propfind.js';
import type { Stat } from '../fs/types.js';
import { ProppatchMethod } from './proppatch.js';
import { parseXml } from './xml.js';

export interface DavOptions {
  /** false: no credentials needed (local development only; logged loudly by `serve`). */
  auth: boolean;
  /** Largest PUT body, bytes (default 16 GiB). */
  maxUploadBytes?: number;
  /** Largest XML body (PROPFIND, PROPPATCH, LOCK…), bytes (default 1 MiB). */
  maxXmlBytes?: number;
  logger: Logger;
}

export const DAV_PREFIX = '/dav/';
const WRITE_METHODS = new Set(['PUT', 'DELETE', 'MKCOL', 'PROPPATCH', 'MOVE', 'COPY', 'LOCK', 'UNLOCK', 'POST', 'PATCH']);
const READ_METHODS = new Set(['GET', 'HEAD', 'PROPFIND']);

function send(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${message}\n`);
}

/** If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since against the current state. */
function evaluatePreconditions(method: string, h: IncomingMessage['headers'], st: Stat | null): 200 | 304 | 412 {
  const etag = st ? etagOf(st) : null;
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim().replace(/^W\//, '')).filter(Boolean);
  const ifMatch = list(h['if-match']);
  if (ifMatch.length && !(st && (ifMatch.includes('*') || ifMatch.includes(etag!)))) return 412;
  const ifNone = list(h['if-none-match']);
  if (ifNone.length && st && (ifNone.includes('*') || ifNone.includes(etag!))) return method === 'GET' || method === 'HEAD' ? 304 : 412;
  const unmod = h['if-unmodified-since'];
  if (unmod && st && !ifMatch.length && Math.floor(st.mtimeMs / 1000) > Math.floor(Date.parse(unmod) / 1000)) return 412;
  const mod = h['if-modified-since'];
  if (mod && st && !ifNone.length && (method === 'GET' || method === 'HEAD') && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(mod) / 1000)) return 304;
  return 200;
}

/** Validates the XML body of methods that take one; returns what is wrong, or null. */
function checkXmlBody(method: string, body: Buffer): string | null {
  if (body.length === 0 || !['PROPFIND', 'PROPPATCH', 'LOCK'].includes(method)) return null;
  try {
    const root = parseXml(body);
    const want = method === 'PROPFIND' ? 'propfind' : method === 'PROPPATCH' ? 'propertyupdate' : 'lockinfo';
    if (root.ns !== 'DAV:' || root.local !== want) return `the ${method} body must have a DAV:${want} root element`;
  } catch (e) {
    return `the ${method} body is not well-formed XML (${(e as Error).message.split('\n')[0]})`;
  }
  return null;
}

/** A request whose body was already read, replayed for webdav-server (which reads req itself). */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const r = Readable.from(body.length ? [body] : []) as unknown as IncomingMessage;
  Object.assign(r, { method: req.method, url: req.url, headers: { ...req.headers, 'content-length': String(body.length) }, httpVersion: req.httpVersion, socket: req.socket });
  return r;
}

/** PUT bodies up to this size are read whole before staging (larger ones stream). */
const SMALL_PUT = 256 * 1024;

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves every agent's filesystem under /dav/<agent>/ with webdav-server v2, one server object per
 * agent (created on demand, LRU-bounded). Before the library sees a request, this layer does what
 * the library does not: authentication per agent, path safety, body limits, refusing XML with
 * DTDs (XXE, entity expansion), and 403 for writes to @version paths.
 */
export class DavService {
  private readonly servers: Lru<string, Promise<WebDAVServer>>;
  private readonly tokens = new TokenVerifier();
  private readonly maxUpload: number;
  private readonly maxXml: number;

  constructor(
    private readonly store: Store,
    private readonly options: DavOptions,
  ) {
    this.servers = new Lru(1000);
    this.maxUpload = options.maxUploadBytes ?? 16 * 1024 ** 3;
    this.maxXml = options.maxXmlBytes ?? 1024 * 1024;
    installIfHeaderFix();
  }

  private server(agent: string): Promise<WebDAVServer> {
    let s = this.servers.get(agent);
    if (!s) {
      s = (async () => {
        const fs = (await AgentFs.open(this.store, agent)).withActor('webdav');
        const davfs = new AgentDavFileSystem(fs);
        const server = new dav.WebDAVServer({ rootFileSystem: davfs, maxRequestDepth: 1 });
        server.method('PROPPATCH', new ProppatchMethod());
        server.method('LOCK', new LockMethod(davfs.lockTable, fs));
        server.method('UNLOCK', new UnlockMethod(davfs.lockTable));
        server.method('PROPFIND', new PropfindMethod());
        return server;
      })();
      s.catch(() => this.servers.delete(agent));
      this.servers.set(agent, s);
    }
    return s;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    res.on('finish', () =>
      this.options.logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started, depth: req.headers.depth }, 'webdav'),
    );
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0]!;
    // path safety: no encoded slashes or NULs, no dot segments (clients must send normalized URLs)
    if (/%2f|%5c|%00/i.test(rawPath) || rawPath.includes('\0')) return send(res, 400, 'bad request: encoded slash, backslash or NUL in the path');
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      return send(res, 400, 'bad request: malformed percent-encoding in the path');
    }
    if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return send(res, 400, 'bad request: "." and ".." segments are not allowed');
    if (url.includes('#')) return send(res, 400, 'bad request: a fragment (#) is not part of a resource name; percent-encode it as %23');
    const m = /^\/dav\/([^/]+)(\/.*)?$/.exec(decoded);
    if (!m) return send(res, 404, 'not found: use /dav/<agent>/');
    const agent = m[1]!;
    const inner = m[2] ?? '/';
    if (!AGENT_NAME_RE.test(agent)) return send(res, 404, `no such agent '${agent}'`);
    if (!(await this.store.hasNamespace(`agent:${agent}`))) {
      return this.options.auth ? send(res, 401, 'authentication required', { 'www-authenticate': 'Basic realm="timefs"' }) : send(res, 404, `no such agent '${agent}'`);
    }
    if (this.options.auth && !(await this.authorized(req, agent))) {
      return send(res, 401, `authentication required: HTTP Basic with user '${agent}' and a token from \`timefs agents token ${agent}\``, { 'www-authenticate': `Basic realm="timefs ${agent}"` });
    }
    if (url.length === `/dav/${agent}`.length && !url.endsWith('/') && req.method !== 'OPTIONS') {
      // /dav/agent → /dav/agent/
      return send(res, 301, 'moved', { location: `/dav/${encodeURIComponent(agent)}/` });
    }
    const method = (req.method ?? 'GET').toUpperCase();

    // time travel is read-only: refuse writes to any @version path (source or destination)
    let parsed;
    try {
      parsed = parsePath(inner);
    } catch (e) {
      return send(res, 400, `bad request: ${(e as Error).message}`);
    }
    const destination = req.headers.destination;
    let destParsed = null;
    if (typeof destination === 'string' && (method === 'MOVE' || method === 'COPY')) {
      try {
        const d = decodeURIComponent(new URL(destination, 'http://x').pathname);
        const dm = /^\/dav\/([^/]+)(\/.*)?$/.exec(d);
        if (!dm || dm[1] !== agent) return send(res, 502, 'bad gateway: the destination must be inside the same agent (/dav/<agent>/…)');
        destParsed = parsePath(dm[2] ?? '/');
      } catch (e) {
        return send(res, 400, `bad request: invalid Destination header: ${(e as Error).message}`);
      }
    }
    const writesSource = WRITE_METHODS.has(method) && method !== 'COPY';
    if ((writesSource && parsed.selector) || destParsed?.selector) {
      const which = destParsed?.selector ? destParsed : parsed;
      return send(res, 403, `forbidden: ${which.path}@${which.selector!.text} is a past version and read-only. Write to ${which.path} instead; to restore, COPY from the versioned URL to the plain one.`);
    }

    // body limits; XML bodies are read here, checked, and replayed to the library
    const length = Number(req.headers['content-length'] ?? '0');
    let forward: IncomingMessage = req;
    if (method === 'PUT') {
      if (length > this.maxUpload) return send(res, 413, `payload too large: uploads are limited to ${this.maxUpload} bytes`);
    } else if (length > 0 || req.headers['transfer-encoding']) {
      if (length > this.maxXml) return send(res, 413, `payload too large: request bodies other than PUT are limited to ${this.maxXml} bytes`);
      const body = await readBody(req, this.maxXml);
      if (body === null) return send(res, 413, `payload too large: request bodies other than PUT are limited to ${this.maxXml} bytes`);
      const text = body.toString('utf8');
      if (/<!DOCTYPE|<!ENTITY/i.test(text)) return send(res, 400, 'bad request: XML with a DOCTYPE or entity declarations is refused');
      if (method === 'MKCOL' && body.length > 0) return send(res, 415, 'unsupported media type: MKCOL takes no body');
      const invalid = checkXmlBody(method, body);
      if (invalid) return send(res, 400, `bad request: ${invalid}`);
      forward = replay(req, body);
    }

    const server = await this.server(agent);
    const davfs = server.rootFileSystem() as AgentDavFileSystem;

    // the version a read sees, validators, and conditional requests (RFC 9110 §13)
    let current: Stat | null = null;
    let resolved: { view: FsView; ino: number; inode: Inode } | null = null;
    let baseView: FsView | null = null;
    try {
      const { view } = await davfs.fs.viewFor(inner);
      baseView = view;
      const r = await view.resolve(parsed.names, true, inner);
      resolved = { view, ino: r.ino, inode: r.inode };
      current = view.statOf(r.ino, r.inode);
    } catch (e) {
      e = fromStoreError(e);
      if (!(e instanceof FsError)) throw e;
      // a version that cannot be read (expired, future, before the first commit): say why
      if (e.reason && e.reason !== 'UNKNOWN_NAMESPACE') return send(res, e.code === 'EINVAL' ? 400 : 404, e.message);
      if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') return send(res, e.code === 'EINVAL' ? 400 : 404, e.message);
    }

    // the If header is a precondition: evaluated before locks, so a false one is 412, not 423
    const ifHeader = typeof req.headers.if === 'string' ? req.headers.if : undefined;
    if (ifHeader !== undefined) {
      const holds = await evaluateIf(parseIfLists(ifHeader), {
        path: parsed.path,
        rootPrefix: `/dav/${agent}`,
        tokenCovers: (p, t) => davfs.lockTable.covering(p).some((l) => l.token === t),
        etag: (p) => davfs.fs.stat(p).then((st) => (st.type === 'dir' ? null : etagOf(st)), () => null),
      });
      if (!holds) return send(res, 412, 'precondition failed: no list of the If header holds');
    }

    // locks: a write needs the token of every lock that covers what it changes (RFC 4918 §7)
    const tokens = submittedTokens(ifHeader);
    const checks: Array<[string, { membership?: boolean; tree?: boolean }]> = [];
    if (method === 'PUT') checks.push([parsed.path, { membership: current === null }]);
    else if (method === 'DELETE') checks.push([parsed.path, { membership: true, tree: true }]);
    else if (method === 'MKCOL') checks.push([parsed.path, { membership: true }]);
    else if (method === 'PROPPATCH') checks.push([parsed.path, {}]);
    else if (method === 'MOVE') checks.push([parsed.path, { membership: true, tree: true }]);
    if ((method === 'MOVE' || method === 'COPY') && destParsed) checks.push([destParsed.path, { membership: true, tree: true }]);
    for (const [path, opts] of checks) {
      const lock = davfs.lockTable.blocking(path, tokens, opts);
      if (lock) {
        res.writeHead(423, { 'content-type': 'application/xml; charset=utf-8' });
        return void res.end(`<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:lock-token-submitted><D:href>${encodeHref(`/dav/${agent}${lock.root}`)}</D:href></D:lock-token-submitted></D:error>`);
      }
    }

    if (READ_METHODS.has(method)) {
      res.setHeader('X-Timefs-Version', current ? current.version : parsed.selector ? (await davfs.fs.viewFor(inner)).view.version : await davfs.fs.head());
      if (current && current.type !== 'dir' && method !== 'PROPFIND') {
        res.setHeader('ETag', etagOf(current));
        res.setHeader('Last-Modified', new Date(current.mtimeMs).toUTCString());
      }
    }
    const verdict = evaluatePreconditions(method, req.headers, current);
    if (verdict === 304) {
      res.writeHead(304);
      return void res.end();
    }
    if (verdict === 412) return send(res, 412, 'precondition failed: If-Match / If-None-Match / If-Unmodified-Since did not hold for the current version');
    if (method === 'PUT') return this.put(davfs, req, res, parsed, current, baseView);
    if ((method === 'GET' || method === 'HEAD') && resolved && resolved.inode.type !== 'dir' && ifHeader === undefined) {
      return serveFile(resolved.view, resolved.ino, resolved.inode, req, res, parsed);
    }
    await new Promise<void>((resolve) => {
      res.on('close', resolve);
      res.on('finish', resolve);
      // webdav-server expects the mount prefix stripped from the URL and given as rootPath (for hrefs)
      const rest = url.slice(`/dav/${agent}`.length);
      forward.url = rest === '' ? '/' : rest;
      // authentication is ours (above): the library would try its own Digest scheme on the header
      // and answer 401, and it advertises that scheme on every response
      delete forward.headers.authorization;
      const setHeader = res.setHeader.bind(res);
      res.setHeader = (name: string, value: number | string | readonly string[]) =>
        name.toLowerCase() === 'www-authenticate' ? res : setHeader(name, value);
      server.executeRequest(forward, res, `/dav/${agent}`);
    });
    // locks do not survive their resource (DELETE) and do not move with it (MOVE)
    if ((method === 'DELETE' || method === 'MOVE') && res.statusCode < 300) davfs.lockTable.dropTree(parsed.path);
  }

  /**
   * PUT, served directly: the body streams into chunks as it arrives (memory: one block) and the
   * file is committed with its content in ONE commit when the body ends. A body that fails or is
   * cut short commits nothing.
   */
  private async put(davfs: AgentDavFileSystem, req: IncomingMessage, res: ServerResponse, parsed: ParsedPath, current: Stat | null, view: FsView | null): Promise<void> {
    if (current?.type === 'dir') return send(res, 405, 'method not allowed: PUT on a collection');
    if (!current) {
      // fail before reading the body (in the view the request was checked in); the commit checks again
      const parent = view ? await view.resolve(parsed.names.slice(0, -1), true).catch(() => null) : null;
      if (parent?.inode.type !== 'dir') return send(res, 409, `conflict: the collection ${parentOf(parsed.path)} does not exist (create it with MKCOL)`);
    }
    let version: string | null = null;
    const stager = new BlockStager(davfs.fs.store, this.maxUpload, async (s) => {
      version = (
        await davfs.fs.transaction(`PUT ${parsed.path} (${s.size} bytes)`, async (tx) => {
          const ino = await tx.openFile(parsed.path, { create: true });
          await tx.setContent(ino, s.blocks, s.size);
        })
      ).version;
    });
    try {
      const length = Number(req.headers['content-length']);
      if (!req.headers['transfer-encoding'] && Number.isSafeInteger(length) && length <= SMALL_PUT) {
        // small bodies (most files): read whole, then one commit — no stream pipeline per request
        const body = await readBody(req, length);
        if (body === null || body.length !== length) return send(res, 400, `bad request: the body does not match Content-Length ${length}`);
        await stager.stageAll(body);
      } else {
        await pipeline(req, stager);
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EFBIG') return send(res, 413, `payload too large: uploads are limited to ${this.maxUpload} bytes`);
      if (e instanceof FsError) return send(res, statusOf(e), e.message);
      if (res.destroyed || req.destroyed) return; // the client went away: nothing was committed
      throw e;
    }
    res.writeHead(current ? 204 : 201, { ...(version ? { 'X-Timefs-Version': version } : {}) });
    res.end();
  }

  private async authorized(req: IncomingMessage, agent: string): Promise<boolean> {
    return authorizeAgent(this.tokens, await AgentFs.open(this.store, agent), req.headers.authorization);
  }

}
