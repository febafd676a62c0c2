import type { IncomingMessage, ServerResponse } from 'node:http';
import mime from 'mime-types';
import type { ParsedPath } from '../fs/path.js';
import type { Inode, Stat } from '../fs/types.js';
import type { FsView } from '../fs/view.js';

/**
 * HTTP helpers shared by the adapters that serve files (webdav/, apps/): one way to stream a file
 * with ETag, Range and conditional requests.
 */

/** Strong ETag of an inode's content state: changes with every commit that changes it. */
export const etagOf = (st: Stat): string => `"${st.ino.toString(16)}-${st.gen.toString(16)}"`;

/** Parses one `bytes=` range against a size; null = serve the whole file, 'unsatisfiable' = 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multiple or malformed ranges: the whole file (allowed by RFC 9110)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/**
 * GET/HEAD of a file, served directly rather than by webdav-server (whose Range support reads the
 * whole file and skips bytes): the view and inode the request resolved serve the whole response
 * (one snapshot, no second path resolution), real ranges, streamed reads.
 */
export async function serveFile(
  view: FsView,
  ino: number,
  inode: Inode,
  req: IncomingMessage,
  res: ServerResponse,
  parsed: ParsedPath,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  const st = view.statOf(ino, inode);
  const etag = etagOf(st);
  let range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, st.size);
  const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : undefined;
  if (range && ifRange && ifRange !== etag && Date.parse(ifRange) < Math.floor(st.mtimeMs / 1000) * 1000) range = null;
  const headers: Record<string, string> = {
    'Content-Type': mime.lookup(parsed.names.at(-1) ?? '') || 'application/octet-stream',
    ETag: etag,
    'Last-Modified': new Date(st.mtimeMs).toUTCString(),
    'Accept-Ranges': 'bytes',
    'X-Timefs-Version': st.version,
    ...extraHeaders,
  };
  const inm = req.headers['if-none-match'];
  if (typeof inm === 'string' && (req.method === 'GET' || req.method === 'HEAD') && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    res.writeHead(304, headers);
    return void res.end();
  }
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
    return void res.end();
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : st.size - 1;
  const length = Math.max(0, end - start + 1);
  res.writeHead(range ? 206 : 200, { ...headers, 'Content-Length': String(length), ...(range ? { 'Content-Range': `bytes ${start}-${end}/${st.size}` } : {}) });
  if (req.method === 'HEAD' || length === 0) return void res.end();
  for await (const chunk of view.readShared(ino, inode, start, end + 1)) {
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    if (res.destroyed) return;
  }
  res.end();
}
