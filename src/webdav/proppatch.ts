import { STATUS_CODES } from 'node:http';
import xmlPkg from 'xml-js-builder';
import type { AgentDavFileSystem } from './davfs.js';
import { dav, type HTTPMethod, type HTTPRequestContext } from './lib.js';

const { XML, XMLElementBuilder } = xmlPkg as unknown as typeof import('xml-js-builder');
const { HTTPCodes, HTTPRequestContext: Ctx } = dav;

interface Op {
  kind: 'set' | 'remove';
  name: string;
  elements: unknown;
  attributes: unknown;
}

/**
 * PROPPATCH, replacing webdav-server's handler (which writes its response twice — crashing the
 * process with ERR_HTTP_HEADERS_SENT — and applies all sets before all removes). This one applies
 * the instructions in document order, atomically, as ONE commit: protected DAV: properties make
 * the whole request fail (403 for them, 424 for the rest) and nothing changes.
 */
export class ProppatchMethod implements HTTPMethod {
  unchunked(ctx: HTTPRequestContext, data: Buffer, callback: () => void): void {
    let ops: Op[];
    try {
      const root = XML.parse(data.toString("utf8")).find('DAV:propertyupdate');
      ops = [];
      for (const instr of root.elements) {
        if (instr.type !== 'element') continue;
        const kind = instr.name === 'DAV:set' ? 'set' : instr.name === 'DAV:remove' ? 'remove' : null;
        if (!kind) continue;
        for (const prop of instr.find('DAV:prop').elements) {
          if (prop.type === 'element') ops.push({ kind, name: prop.name, elements: prop.elements, attributes: prop.attributes });
        }
      }
    } catch {
      ctx.setCode(HTTPCodes.BadRequest);
      return callback();
    }
    ctx.getResource((e, res) => {
      const r = res!;
      if (e || !res) {
        ctx.setCode(HTTPCodes.NotFound);
        return callback();
      }
      ctx.checkIfHeader(r, () => {
        r.fs.isLocked(ctx, r.path, (err, locked) => {
          if (err || locked) {
            ctx.setCode(locked ? HTTPCodes.Locked : HTTPCodes.InternalServerError);
            return callback();
          }
          const fs = (r.fs as AgentDavFileSystem).fs;
          const path = r.path.toString();
          void this.apply(fs, path, ops).then(
            (statuses) => {
              const multistatus = new XMLElementBuilder('D:multistatus', { 'xmlns:D': 'DAV:' });
              const response = multistatus.ele('D:response');
              response.ele('D:href', undefined, true).add(Ctx.encodeURL(ctx.fullUri()));
              const byCode = new Map<number, string[]>();
              ops.forEach((op, i) => byCode.set(statuses[i]!, [...(byCode.get(statuses[i]!) ?? []), op.name]));
              for (const [code, names] of byCode) {
                const propstat = response.ele('D:propstat');
                const prop = propstat.ele('D:prop');
                for (const name of names) prop.add(new XMLElementBuilder(name));
                propstat.ele('D:status').add(`HTTP/1.1 ${code} ${STATUS_CODES[code]}`);
              }
              ctx.setCode(HTTPCodes.MultiStatus);
              ctx.writeBody(multistatus);
              callback();
            },
            (e: unknown) => {
              const code = (e as { code?: string }).code;
              ctx.setCode(code === 'ENOENT' ? HTTPCodes.NotFound : code === 'EROFS' ? HTTPCodes.Forbidden : HTTPCodes.InternalServerError);
              callback();
            },
          );
        });
      });
    });
  }

  /** Returns one HTTP status per op. */
  private async apply(fs: AgentDavFileSystem['fs'], path: string, ops: Op[]): Promise<number[]> {
    if (ops.some((o) => o.name.startsWith('DAV:'))) return ops.map((o) => (o.name.startsWith('DAV:') ? 403 : 424));
    await fs.stat(path); // 404 before anything else
    if (ops.length === 0) return [];
    await fs.transaction(`PROPPATCH ${path} (${ops.length} properties)`, async (tx) => {
      const parsed = tx.writable(path);
      const target = await tx.resolve(parsed.names, true, path);
      for (const op of ops) {
        const key = `dav:${op.name}`;
        if (op.kind === 'set') await tx.setxattr(target.ino, key, Buffer.from(JSON.stringify({ v: op.elements, a: op.attributes ?? {} })));
        else await tx.removexattr(target.ino, key).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'ENODATA') throw e;
        });
      }
    });
    return ops.map(() => 200);
  }
}
