import { randomUUID } from 'node:crypto';
import type { AgentFs } from '../fs/agentfs.js';
import { isWithin, parentOf, parsePath } from '../fs/path.js';
import { dav, type HTTPMethod, type HTTPRequestContext } from './lib.js';
import { encodeHref } from './propfind.js';
import { child, elements, escapeText, parseXml, respond, serialize } from './xml.js';

const { HTTPCodes } = dav;

export interface DavLock {
  token: string;
  /** the locked path (lock root), normalized */
  root: string;
  scope: 'exclusive' | 'shared';
  depth: 0 | -1;
  /** owner inner XML */
  owner: string;
  timeoutSec: number;
  expires: number;
}

const MAX_TIMEOUT = 24 * 3600;
const DEFAULT_TIMEOUT = 3600;

function parseTimeout(header: string | undefined): number {
  if (!header) return DEFAULT_TIMEOUT;
  for (const part of header.split(',').map((s) => s.trim())) {
    if (/^infinite$/i.test(part)) return MAX_TIMEOUT;
    const m = /^Second-(\d+)$/i.exec(part);
    if (m) return Math.min(MAX_TIMEOUT, Math.max(1, Number(m[1])));
  }
  return DEFAULT_TIMEOUT;
}

/**
 * WebDAV write locks (RFC 4918 §6–7) of one agent, in memory: advisory, with timeouts, so a restart
 * simply drops them. Replaces webdav-server's locking, which ties locks to the authenticated user
 * rather than to the submitted lock token (so unauthenticated clients never saw 423), compares the
 * lock scope with the lock type, and cannot refresh through a member of a locked collection.
 */
export class LockTable {
  private readonly locks = new Map<string, DavLock>();

  private live(): DavLock[] {
    const now = Date.now();
    for (const [t, l] of this.locks) if (l.expires <= now) this.locks.delete(t);
    return [...this.locks.values()];
  }

  /** Locks that apply to `path`: on it, or depth-infinity on an ancestor. */
  covering(path: string): DavLock[] {
    return this.live().filter((l) => l.root === path || (l.depth === -1 && isWithin(path, l.root)));
  }

  /** Locks rooted strictly below `path`. */
  below(path: string): DavLock[] {
    return this.live().filter((l) => l.root !== path && isWithin(l.root, path));
  }

  get(token: string): DavLock | undefined {
    return this.live().find((l) => l.token === token);
  }

  add(lock: DavLock): void {
    this.locks.set(lock.token, lock);
  }

  remove(token: string): boolean {
    return this.locks.delete(token);
  }

  /** Drops locks at or below a path (after DELETE, or MOVE of the source). */
  dropTree(path: string): void {
    for (const l of this.live()) if (isWithin(l.root, path)) this.locks.delete(l.token);
  }

  /**
   * The lock that blocks a write to `path` without one of `tokens`, or null. `membership` also
   * counts locks on the parent collection (adding or removing a member changes it) and `tree`
   * locks anywhere below (deleting or moving a whole collection).
   */
  blocking(path: string, tokens: string[], opts: { membership?: boolean; tree?: boolean } = {}): DavLock | null {
    const relevant = [...this.covering(path)];
    if (opts.membership && path !== '/') relevant.push(...this.covering(parentOf(path)).filter((l) => !relevant.includes(l)));
    if (opts.tree) relevant.push(...this.below(path));
    return relevant.find((l) => !tokens.includes(l.token)) ?? null;
  }
}

/** Every state token named anywhere in an If header. */
export function submittedTokens(ifHeader: string | undefined): string[] {
  if (!ifHeader) return [];
  return [...ifHeader.matchAll(/<([^>]+)>/g)].map((m) => m[1]!).filter((t) => !/^https?:/i.test(t));
}

export function activeLockXml(l: DavLock, rootPrefix: string): string {
  const secs = Math.max(0, Math.round((l.expires - Date.now()) / 1000));
  return (
    `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${l.scope}/></D:lockscope>` +
    `<D:depth>${l.depth === -1 ? 'infinity' : '0'}</D:depth>${l.owner ? `<D:owner>${l.owner}</D:owner>` : ''}` +
    `<D:timeout>Second-${secs}</D:timeout><D:locktoken><D:href>${escapeText(l.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeText(encodeHref(rootPrefix + l.root))}</D:href></D:lockroot></D:activelock>`
  );
}

const XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>';

export class LockMethod implements HTTPMethod {
  constructor(
    private readonly table: LockTable,
    private readonly fs: AgentFs,
  ) {}

  unchunked(ctx: HTTPRequestContext, data: Buffer, callback: () => void): void {
    this.run(ctx, data).then(callback, () => {
      ctx.setCode(HTTPCodes.InternalServerError);
      callback();
    });
  }

  private async run(ctx: HTTPRequestContext, data: Buffer): Promise<void> {
    const path = parsePath(ctx.requested.path.toString()).path;
    const prefix = ctx.rootPath ?? '';
    const timeoutSec = parseTimeout(ctx.headers.find('Timeout'));
    if (data.length === 0) {
      // refresh: the If header names a lock that covers this resource (maybe through an ancestor)
      const lock = submittedTokens(ctx.headers.find('If')).map((t) => this.table.get(t)).find((l) => l && this.table.covering(path).includes(l));
      if (!lock) return respond(ctx, HTTPCodes.PreconditionFailed, `${XML_HEAD}<D:error xmlns:D="DAV:"><D:lock-token-matches-request-uri/></D:error>`);
      lock.timeoutSec = timeoutSec;
      lock.expires = Date.now() + timeoutSec * 1000;
      return respond(ctx, HTTPCodes.OK, `${XML_HEAD}<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLockXml(lock, prefix)}</D:lockdiscovery></D:prop>`);
    }
    let scope: DavLock['scope'];
    let owner = '';
    try {
      const root = parseXml(data);
      const s = child(root, 'DAV:', 'lockscope');
      const kind = s && elements(s)[0];
      if (!kind || kind.ns !== 'DAV:' || (kind.local !== 'exclusive' && kind.local !== 'shared')) throw new Error('lockscope');
      const t = child(root, 'DAV:', 'locktype');
      if (!t || !child(t, 'DAV:', 'write')) throw new Error('locktype');
      scope = kind.local;
      const o = child(root, 'DAV:', 'owner');
      if (o) owner = serialize(o.children);
    } catch {
      return respond(ctx, HTTPCodes.BadRequest, `${XML_HEAD}<D:error xmlns:D="DAV:"/>`);
    }
    const depthHeader = (ctx.headers.find('Depth') ?? 'infinity').toLowerCase();
    if (depthHeader !== '0' && depthHeader !== 'infinity') return respond(ctx, HTTPCodes.BadRequest, `${XML_HEAD}<D:error xmlns:D="DAV:"/>`);
    const depth = depthHeader === '0' ? 0 : -1;
    // conflicts: an exclusive lock anywhere that would overlap, or any lock when asking for exclusive
    const overlapping = [...this.table.covering(path), ...(depth === -1 ? this.table.below(path) : [])];
    if (overlapping.some((l) => scope === 'exclusive' || l.scope === 'exclusive')) {
      return respond(ctx, HTTPCodes.Locked, `${XML_HEAD}<D:error xmlns:D="DAV:"><D:no-conflicting-lock>${overlapping.map((l) => `<D:href>${escapeText(encodeHref(prefix + l.root))}</D:href>`).join('')}</D:no-conflicting-lock></D:error>`);
    }
    let created = false;
    if (!(await this.fs.exists(path))) {
      // locking an unmapped URL creates an empty resource (RFC 4918 §7.3)
      await this.fs.transaction(`LOCK ${path} (create)`, (tx) => tx.openFile(path, { create: true, exclusive: true }));
      created = true;
    }
    const lock: DavLock = { token: `urn:uuid:${randomUUID()}`, root: path, scope, depth, owner, timeoutSec, expires: Date.now() + timeoutSec * 1000 };
    this.table.add(lock);
    respond(ctx, created ? HTTPCodes.Created : HTTPCodes.OK, `${XML_HEAD}<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLockXml(lock, prefix)}</D:lockdiscovery></D:prop>`, {
      'Lock-Token': `<${lock.token}>`,
    });
  }
}

export class UnlockMethod implements HTTPMethod {
  constructor(private readonly table: LockTable) {}

  unchunked(ctx: HTTPRequestContext, _data: Buffer, callback: () => void): void {
    const path = parsePath(ctx.requested.path.toString()).path;
    const m = /^\s*<([^>]+)>\s*$/.exec(ctx.headers.find('Lock-Token') ?? '');
    const lock = m ? this.table.get(m[1]!) : undefined;
    if (!m) ctx.setCode(HTTPCodes.BadRequest);
    else if (!lock || !this.table.covering(path).includes(lock)) {
      respond(ctx, HTTPCodes.Conflict, `${XML_HEAD}<D:error xmlns:D="DAV:"><D:lock-token-matches-request-uri/></D:error>`);
    } else {
      this.table.remove(lock.token);
      ctx.setCode(HTTPCodes.NoContent);
    }
    callback();
  }
}
