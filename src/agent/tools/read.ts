import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { fsError } from '../../fs/errors.js';
import { defineTool } from '../tool.js';
import { READ_DEFAULT_LINES, READ_MAX_CHARS, READ_MAX_LINE, isBinary } from '../limits.js';
import { atText, bytes, limitArg, offsetArg, pathArg, readView, versionArg } from './common.js';

export const Read = defineTool({
  name: 'Read',
  description:
    'Read a text file, now or at any past version. Returns the file content. Long files come in pages: `offset` is the first line (1-based), `limit` the number of lines (default 2000). Binary files are described, not shown.',
  input: z.strictObject({
    path: pathArg(),
    version: versionArg,
    offset: offsetArg('First line to return, 1-based (default 1)'),
    limit: limitArg('Number of lines to return (default 2000)'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const { view, names, path } = await readView(fs, args.path, args.version);
    const r = await view.resolve(names, true, args.path);
    if (r.inode.type === 'dir') throw fsError('EISDIR', `${path} is a directory: use List to see its entries`, path);
    if (r.inode.type !== 'file') throw fsError('EINVAL', `${path} is a ${r.inode.type}, not a regular file`, path);
    const at = atText(view, args.version, args.path);
    const size = r.inode.size;
    if (size === 0) return { text: `[${path}${at} is empty]` };
    const head = await view.readContent(r.ino, r.inode, 0, Math.min(size, 8000));
    if (isBinary(head)) {
      const hash = createHash('sha256');
      for await (const piece of view.readPieces(r.ino, r.inode)) hash.update(piece);
      return { text: `[${path}${at} is a binary file: ${bytes(size)} (${size} bytes), sha256 ${hash.digest('hex')}; not shown]` };
    }
    const first = Math.max(1, args.offset ?? 1);
    const limit = args.limit ?? READ_DEFAULT_LINES;
    const out: string[] = [];
    let chars = 0;
    let n = 0;
    let longLines = 0;
    let stopped: 'limit' | 'chars' | null = null;
    // streams the file and stops as soon as the page is full: reading line 10 of 1 GiB reads 1 MiB
    for await (const line of linesOf(view.readPieces(r.ino, r.inode))) {
      n++;
      if (n < first) continue;
      if (out.length === limit) {
        stopped = 'limit';
        break;
      }
      let l = line;
      if (l.length > READ_MAX_LINE) {
        l = `${l.slice(0, READ_MAX_LINE)}… [line cut at ${READ_MAX_LINE} of ${l.length} characters]`;
        longLines++;
      }
      if (chars + l.length + 1 > READ_MAX_CHARS && out.length > 0) {
        stopped = 'chars';
        break;
      }
      out.push(l);
      chars += l.length + 1;
    }
    if (out.length === 0) return { text: `[${path}${at} has ${n} lines; offset ${first} is past the end]` };
    const last = first + out.length - 1;
    let text = out.join('\n');
    if (stopped) {
      const why = stopped === 'chars' ? `the ${READ_MAX_CHARS.toLocaleString('en-US')}-character limit of one Read` : `limit=${limit}`;
      text += `\n[showing lines ${first}–${last} of ${path}${at} (${bytes(size)}), stopped by ${why}; more follows: call Read with offset=${last + 1}]`;
    } else if (first > 1) {
      text += `\n[showing lines ${first}–${last} of ${n}: the end of the file]`;
    }
    if (longLines > 0) text += `\n[${longLines} long line(s) were cut at ${READ_MAX_LINE} characters]`;
    return { text };
  },
});

/** Splits a stream of buffers into lines (without their '\n'), decoding UTF-8 across piece boundaries. */
async function* linesOf(pieces: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const piece of pieces) {
    const parts = (carry + decoder.write(piece)).split('\n');
    carry = parts.pop() ?? '';
    yield* parts;
  }
  carry += decoder.end();
  if (carry !== '') yield carry;
}
