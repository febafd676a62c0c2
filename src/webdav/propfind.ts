import mime from 'mime-types';
import type { AgentFs } from '../fs/agentfs.js';
import { parsePath } from '../fs/path.js';
import type { Inode, Stat } from '../fs/types.js';
import type { FsView } from '../fs/view.js';
import type { AgentDavFileSystem } from './davfs.js';
import { readDeadProps } from './deadprops.js';
import { activeLockXml } from './locks.js';
import { dav, type HTTPMethod, type HTTPRequestContext } from './lib.js';
import { statusOf } from './errors.js';
import { child, elements, escapeText, parseXml, propElement, clark, respond } from './xml.js';

const { HTTPCodes } = dav;

type Mode = { kind: 'allprop' } | { kind: 'propname' } | { kind: 'prop'; wanted: Array<{ ns: string; local: string }> };

const LIVE = ['creationdate', 'displayname', 'getcontentlength', 'getcontenttype', 'getetag', 'getlastmodified', 'resourcetype', 'lockdiscovery', 'supportedlock'];

/** Changes with every commit that touches the inode (its generation), content or metadata. */
import { etagOf } from '../http/file.js';

export { etagOf };

export const encodeHref = (path: string): string =>
  path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%40/g, '@').replace(/%3A/gi, ':'))
    .join('/');


/**
 * PROPFIND, replacing webdav-server's: namespaces stay exact (Clark names), a Depth 1 listing reads
 * all entries in one readdirPlus at one version, invalid bodies get 400 (the library answered 207),
 * and Depth infinity is refused with 403 propfind-finite-depth (RFC 4918 §9.1).
 */
export class PropfindMethod implements HTTPMethod {
  unchunked(ctx: HTTPRequestContext, data: Buffer, callback: () => void): void {
    const depthHeader = (ctx.headers.find('Depth') ?? 'infinity').toLowerCase();
    if (depthHeader !== '0' && depthHeader !== '1') {
      respond(ctx, HTTPCodes.Forbidden, '<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>');
      return callback();
    }
    let mode: Mode = { kind: 'allprop' };
    if (data.length > 0) {
      try {
        const root = parseXml(data);
        if (root.ns !== 'DAV:' || root.local !== 'propfind') throw new Error('root must be DAV:propfind');
        const prop = child(root, 'DAV:', 'prop');
        if (child(root, 'DAV:', 'propname')) mode = { kind: 'propname' };
        else if (prop) mode = { kind: 'prop', wanted: elements(prop).map((e) => ({ ns: e.ns, local: e.local })) };
        else if (!child(root, 'DAV:', 'allprop')) throw new Error('expected prop, propname or allprop');
      } catch {
        ctx.setCode(HTTPCodes.BadRequest);
        return callback();
      }
    }
    const davfs = ctx.server.rootFileSystem() as AgentDavFileSystem;
    const path = ctx.requested.path.toString();
    this.render(ctx, davfs, path, depthHeader === '1', mode).then(
      (body) => {
        respond(ctx, HTTPCodes.MultiStatus, body);
        callback();
      },
      (e: unknown) => {
        ctx.setCode(statusOf(e));
        callback();
      },
    );
  }

  private async render(ctx: HTTPRequestContext, davfs: AgentDavFileSystem, path: string, depth1: boolean, mode: Mode): Promise<string> {
    const fs: AgentFs = davfs.fs;
    const { view, parsed } = await fs.viewFor(path);
    const target = await view.resolve(parsed.names, true, path);
    const items: Array<{ path: string; stat: Stat; inode: Inode }> = [{ path, stat: view.statOf(target.ino, target.inode), inode: target.inode }];
    if (depth1 && target.inode.type === 'dir') {
      const base = path.endsWith('/') ? path : `${path}/`;
      const entries = await view.readdir(target.ino);
      const inodes = await view.inodesOf(entries.map((e) => e.ino));
      for (const e of entries) {
        const inode = inodes.get(e.ino) ?? (await view.mustInode(e.ino));
        items.push({ path: base + e.name, stat: view.statOf(e.ino, inode), inode });
      }
    }
    const root = ctx.rootPath ?? '';
    let out = '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">';
    for (const item of items) {
      const isDir = item.stat.type === 'dir';
      let href = root + (item.path.startsWith('/') ? item.path : `/${item.path}`);
      if (isDir && !href.endsWith('/')) href += '/';
      out += `<D:response><D:href>${escapeText(encodeHref(href))}</D:href>`;
      const found: string[] = [];
      const missing: string[] = [];
      const live = await this.liveProps(davfs, item.path, item.stat, root);
      const dead = await readDeadProps(view, item.stat.ino, item.inode);
      if (mode.kind === 'propname') {
        for (const name of Object.keys(live)) found.push(`<D:${name}/>`);
        for (const d of dead) found.push(propElement(d.ns, d.local, null));
      } else if (mode.kind === 'allprop') {
        for (const [name, xml] of Object.entries(live)) found.push(propElement('DAV:', name, xml));
        for (const d of dead) found.push(propElement(d.ns, d.local, d.xml));
      } else {
        const deadByName = new Map(dead.map((d) => [clark(d.ns, d.local), d]));
        for (const w of mode.wanted) {
          const d = deadByName.get(clark(w.ns, w.local));
          if (w.ns === 'DAV:' && live[w.local] !== undefined) found.push(propElement('DAV:', w.local, live[w.local]!));
          else if (d) found.push(propElement(d.ns, d.local, d.xml));
          else missing.push(propElement(w.ns, w.local, null));
        }
      }
      if (found.length || mode.kind !== 'prop') out += `<D:propstat><D:prop>${found.join('')}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`;
      if (missing.length) out += `<D:propstat><D:prop>${missing.join('')}</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>`;
      out += '</D:response>';
    }
    return `${out}</D:multistatus>`;
  }

  /** Live DAV: properties, name → inner XML. */
  private async liveProps(davfs: AgentDavFileSystem, path: string, st: Stat, rootPrefix: string): Promise<Record<string, string>> {
    const isDir = st.type === 'dir';
    const name = parsePath(path).names.at(-1) ?? '';
    const props: Record<string, string> = {
      creationdate: new Date(st.ctimeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      displayname: escapeText(name),
      getetag: escapeText(etagOf(st)),
      getlastmodified: new Date(st.mtimeMs).toUTCString(),
      resourcetype: isDir ? '<D:collection/>' : '',
      supportedlock:
        '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
        '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>',
      lockdiscovery: await this.lockDiscovery(davfs, path, rootPrefix),
    };
    if (!isDir) {
      props.getcontentlength = String(st.size);
      props.getcontenttype = escapeText(mime.lookup(name) || 'application/octet-stream');
    }
    return props;
  }

  private async lockDiscovery(davfs: AgentDavFileSystem, path: string, rootPrefix: string): Promise<string> {
    return davfs.lockTable.covering(parsePath(path).path).map((l) => activeLockXml(l, rootPrefix)).join('');
  }
}

export type { FsView };
