import type { AgentFs } from '../fs/agentfs.js';
import type { AgentDavFileSystem } from './davfs.js';
import { deadName } from './deadprops.js';
import { dav, type HTTPMethod, type HTTPRequestContext } from './lib.js';
import { encodeHref } from './propfind.js';
import { statusOf } from './errors.js';
import { elements, escapeText, parseXml, propElement, respond, serialize } from './xml.js';

const { HTTPCodes } = dav;

interface Op {
  kind: 'set' | 'remove';
  ns: string;
  local: string;
  xml: string;
}

/**
 * PROPPATCH, replacing webdav-server's handler (which writes its response twice — crashing the
 * process with ERR_HTTP_HEADERS_SENT — applies all sets before all removes, and loses namespaces).
 * This one applies the instructions in document order, atomically, as ONE commit; protected DAV:
 * properties fail the whole request (403 for them, 424 for the rest) and nothing changes.
 */
export class ProppatchMethod implements HTTPMethod {
  unchunked(ctx: HTTPRequestContext, data: Buffer, callback: () => void): void {
    let ops: Op[];
    try {
      const root = parseXml(data);
      if (root.ns !== 'DAV:' || root.local !== 'propertyupdate') throw new Error('root must be DAV:propertyupdate');
      ops = [];
      for (const instr of elements(root)) {
        if (instr.ns !== 'DAV:' || (instr.local !== 'set' && instr.local !== 'remove')) continue;
        for (const prop of elements(instr).filter((e) => e.ns === 'DAV:' && e.local === 'prop')) {
          for (const p of elements(prop)) ops.push({ kind: instr.local, ns: p.ns, local: p.local, xml: serialize(p.children) });
        }
      }
    } catch {
      ctx.setCode(HTTPCodes.BadRequest);
      return callback();
    }
    ctx.getResource((e, res) => {
      if (e || !res) {
        ctx.setCode(HTTPCodes.NotFound);
        return callback();
      }
      ctx.checkIfHeader(res, () => {
        res.fs.isLocked(ctx, res.path, (err, locked) => {
          if (err || locked) {
            ctx.setCode(locked ? HTTPCodes.Locked : HTTPCodes.InternalServerError);
            return callback();
          }
          const fs = (res.fs as AgentDavFileSystem).fs;
          const path = res.path.toString();
          void apply(fs, path, ops).then(
            (statuses) => {
              const byCode = new Map<number, string[]>();
              ops.forEach((op, i) => byCode.set(statuses[i]!, [...(byCode.get(statuses[i]!) ?? []), propElement(op.ns, op.local, null)]));
              let body = `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeText(encodeHref((ctx.rootPath ?? '') + path))}</D:href>`;
              for (const [code, names] of byCode) {
                const text = code === 200 ? 'OK' : code === 403 ? 'Forbidden' : 'Failed Dependency';
                body += `<D:propstat><D:prop>${names.join('')}</D:prop><D:status>HTTP/1.1 ${code} ${text}</D:status></D:propstat>`;
              }
              body += '</D:response></D:multistatus>';
              respond(ctx, HTTPCodes.MultiStatus, body);
              callback();
            },
            (e: unknown) => {
              ctx.setCode(statusOf(e));
              callback();
            },
          );
        });
      });
    });
  }
}

/** Returns one HTTP status per op. */
async function apply(fs: AgentFs, path: string, ops: Op[]): Promise<number[]> {
  await fs.stat(path); // 404 before anything else
  if (ops.some((o) => o.ns === 'DAV:')) return ops.map((o) => (o.ns === 'DAV:' ? 403 : 424));
  if (ops.length === 0) return [];
  await fs.transaction(`PROPPATCH ${path} (${ops.length} properties)`, async (tx) => {
    const parsed = tx.writable(path);
    const target = await tx.resolve(parsed.names, true, path);
    for (const op of ops) {
      const key = deadName(op.ns, op.local);
      if (op.kind === 'set') await tx.setxattr(target.ino, key, Buffer.from(JSON.stringify({ x: op.xml })));
      else
        await tx.removexattr(target.ino, key).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'ENODATA') throw e;
        });
    }
  });
  return ops.map(() => 200);
}
