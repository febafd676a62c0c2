import { createRequire } from 'node:module';
import { parsePath } from '../fs/path.js';
import type { HTTPRequestContext, Resource } from './lib.js';
import type { LockTable } from './locks.js';

/**
 * The WebDAV `If:` header (RFC 4918 §10.4), replacing webdav-server's parser, which (2.6.3)
 * passes every list that has conditions and crashes the process (TypeError on `paths`) on tagged
 * lists. Installed by swapping the module's export, which RequestContext looks up at call time.
 *
 * Semantics: the header holds lists, optionally tagged with a resource URL; it is true when any
 * list is true; a list is true when all its conditions are; a condition is a state token (true
 * when a lock with that token covers the resource, directly or through a depth-infinity lock on an
 * ancestor) or an entity tag in [brackets], either possibly negated with Not.
 */
type Check = (ctx: HTTPRequestContext, resource: Resource, cb: (error: Error | null, passed: boolean) => void) => void;

interface Condition {
  not: boolean;
  token?: string;
  etag?: string;
}
interface List {
  tag: string | null;
  conditions: Condition[];
}

export function parseIfLists(header: string): List[] | null {
  const lists: List[] = [];
  let tag: string | null = null;
  const re = /\s*(?:<([^>]*)>\s*)?\(([^)]*)\)/y;
  let pos = 0;
  while (pos < header.length && header.slice(pos).trim() !== '') {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) return null; // malformed
    if (m[1] !== undefined) tag = m[1];
    const conditions: Condition[] = [];
    const cre = /\s*(Not\s+)?(?:<([^>]*)>|\[([^\]]*)\])/iy;
    let cpos = 0;
    const body = m[2]!;
    while (body.slice(cpos).trim() !== '') {
      cre.lastIndex = cpos;
      const c = cre.exec(body);
      if (!c) return null;
      conditions.push({ not: !!c[1], ...(c[2] !== undefined ? { token: c[2] } : { etag: c[3]! }) });
      cpos = cre.lastIndex;
    }
    if (conditions.length === 0) return null;
    lists.push({ tag, conditions });
    pos = re.lastIndex;
  }
  return lists;
}


export interface IfContext {
  /** the request's own path (untagged lists apply to it) */
  path: string;
  /** the URL path prefix of this agent's tree, e.g. /dav/alice */
  rootPrefix: string;
  tokenCovers(path: string, token: string): boolean;
  etag(path: string): Promise<string | null>;
}

/** True when some list of the header holds (RFC 4918 §10.4); null lists (malformed) never hold. */
export async function evaluateIf(lists: List[] | null, c: IfContext): Promise<boolean> {
  if (lists === null) return false;
  if (lists.length === 0) return true;
  for (const list of lists) {
    let path = c.path;
    if (list.tag !== null) {
      let tagged: string;
      try {
        tagged = decodeURIComponent(new URL(list.tag, 'http://x').pathname);
      } catch {
        continue;
      }
      if (!tagged.startsWith(c.rootPrefix)) continue;
      path = tagged.slice(c.rootPrefix.length) || '/';
    }
    let all = true;
    for (const cond of list.conditions) {
      let ok = cond.token !== undefined ? cond.token !== 'DAV:no-lock' && c.tokenCovers(parsePath(path).path, cond.token) : (await c.etag(path)) === cond.etag;
      if (cond.not) ok = !ok;
      if (!ok) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

/** The replacement for webdav-server's parseIfHeader, same shape, on our lock table. */
export function parseIfHeader(header: string): Check {
  const lists = parseIfLists(header);
  return (ctx, resource, cb) => {
    const davfs = ctx.server.rootFileSystem() as unknown as { lockTable?: LockTable };
    evaluateIf(lists, {
      path: resource.path.toString(),
      rootPrefix: ctx.rootPath ?? '',
      tokenCovers: (p, t) => !!davfs.lockTable?.covering(p).some((l) => l.token === t),
      etag: (p) => new Promise((resolve) => ctx.server.getResourceSync(ctx, p).etag((e, v) => resolve(e ? null : (v ?? null)))),
    }).then((ok) => cb(null, ok), (e: Error) => cb(e, false));
  };
}

let installed = false;
export function installIfHeaderFix(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const mod = require('webdav-server/lib/helper/v2/IfParser.js') as { parseIfHeader: unknown };
  mod.parseIfHeader = parseIfHeader;
  installed = true;
}
