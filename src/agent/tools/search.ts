import picomatch from 'picomatch';
import { z } from 'zod';
import { fsError } from '../../fs/errors.js';
import { joinPath } from '../../fs/path.js';
import type { Inode } from '../../fs/types.js';
import type { FsView } from '../../fs/view.js';
import { defineTool } from '../tool.js';
import { GLOB_DEFAULT_LIMIT, GREP_DEFAULT_LIMIT, GREP_MAX_FILE, isBinary, plural } from '../limits.js';
import { atText, limitArg, offsetArg, readView, versionArg } from './common.js';
import { grepLines } from '../regex.js';

/** Walks stop after this many entries, so one call cannot pin the agent on a huge tree. */
const MAX_WALK = 200_000;

interface Found {
  path: string;
  ino: number;
  inode: Inode;
}

/** Every entry below a directory (or the one file), with absolute paths, parents first. */
async function* entriesUnder(view: FsView, names: string[], path: string): AsyncGenerator<Found> {
  const root = await view.resolve(names, true, path);
  if (root.inode.type !== 'dir') {
    yield { path, ino: root.ino, inode: root.inode };
    return;
  }
  let n = 0;
  for await (const { rel, entry, inode } of view.walk(root.ino)) {
    if (++n > MAX_WALK) throw fsError('EINVAL', `more than ${MAX_WALK.toLocaleString('en-US')} entries under ${path}: search a narrower path`, path);
    yield { path: joinPath(path, rel), ino: entry.ino, inode };
  }
}

/**
 * A glob matcher: a pattern starting with '/' matches absolute paths; otherwise paths relative to
 * the searched directory, and a pattern without '/' (like `*.md`) matches the base name anywhere.
 */
function globMatcher(pattern: string, base: string): (abs: string) => boolean {
  if (pattern.trim() === '') throw fsError('EINVAL', 'empty glob pattern: try "**/*" or "*.md"');
  const isMatch = picomatch(pattern.startsWith('/') ? pattern : pattern, { dot: true, basename: !pattern.includes('/') });
  if (pattern.startsWith('/')) return (abs) => isMatch(abs);
  const prefix = base === '/' ? '/' : `${base}/`;
  return (abs) => isMatch(abs.startsWith(prefix) ? abs.slice(prefix.length) : abs);
}

export const Glob = defineTool({
  name: 'Glob',
  description:
    'Find files by glob pattern (e.g. "**/*.md", "src/**/*.{ts,js}", "*.json" for any depth), now or at any past version. Returns matching paths, sorted. Directories end in "/".',
  input: z.strictObject({
    pattern: z.string().describe('Glob pattern, relative to `path` (or absolute if it starts with /)'),
    path: z.string().optional().describe('Directory to search (default /)'),
    version: versionArg,
    offset: offsetArg('Matches to skip (for paging; default 0)'),
    limit: limitArg('Matches to return (default 500)'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const { view, names, path } = await readView(fs, args.path ?? '/', args.version);
    const match = globMatcher(args.pattern, path);
    const hits: string[] = [];
    for await (const f of entriesUnder(view, names, path)) if (match(f.path)) hits.push(f.inode.type === 'dir' ? `${f.path}/` : f.path);
    hits.sort();
    const at = atText(view, args.version, args.path ?? '/');
    if (hits.length === 0) return { text: `[no paths under ${path}${at} match ${JSON.stringify(args.pattern)}]` };
    const offset = args.offset ?? 0;
    const limit = args.limit ?? GLOB_DEFAULT_LIMIT;
    const page = hits.slice(offset, offset + limit);
    let text = page.join('\n');
    if (offset + page.length < hits.length) text += `\n[showing ${offset + 1}–${offset + page.length} of ${hits.length} matches; call Glob with offset=${offset + page.length} for more]`;
    return { text };
  },
});

function compile(pattern: string, ignoreCase: boolean): RegExp {
  try {
    return new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (err) {
    throw fsError('EINVAL', `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

export const Grep = defineTool({
  name: 'Grep',
  description:
    'Search file contents with a regular expression (JavaScript syntax), now or at any past version. Returns "path:line: text" for each matching line. `glob` filters files (e.g. "*.md"). Binary files are skipped.',
  input: z.strictObject({
    pattern: z.string().min(1).describe('Regular expression, e.g. "TODO|FIXME" or "function\\\\s+main"'),
    path: z.string().optional().describe('File or directory to search (default /)'),
    glob: z.string().optional().describe('Only files matching this glob, e.g. "*.ts" or "docs/**/*.md"'),
    version: versionArg,
    ignore_case: z.boolean().optional().describe('Case-insensitive match (default false)'),
    offset: offsetArg('Matches to skip (for paging; default 0)'),
    limit: limitArg('Matching lines to return (default 200)'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const re = compile(args.pattern, args.ignore_case ?? false);
    const { view, names, path } = await readView(fs, args.path ?? '/', args.version);
    const filter = args.glob ? globMatcher(args.glob, path) : () => true;
    const offset = args.offset ?? 0;
    const limit = args.limit ?? GREP_DEFAULT_LIMIT;
    const out: string[] = [];
    const skipped: string[] = [];
    const hitFiles = new Set<string>();
    let total = 0;
    // matching runs in a worker with a time limit (regex.ts); files go in batches of ~8 MiB
    let batch: Array<[string, string]> = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      for (const [path, line, text] of await grepLines(re.source, re.flags, batch)) {
        hitFiles.add(path);
        if (total >= offset && out.length < limit) out.push(`${path}:${line}: ${text}`);
        total++;
      }
      batch = [];
      batchBytes = 0;
    };
    for await (const f of entriesUnder(view, names, path)) {
      if (f.inode.type !== 'file' || f.inode.size === 0 || !filter(f.path)) continue;
      if (f.inode.size > GREP_MAX_FILE) {
        skipped.push(f.path);
        continue;
      }
      const data = await view.readContent(f.ino, f.inode, 0, f.inode.size);
      if (isBinary(data)) continue;
      batch.push([f.path, data.toString('utf8')]);
      batchBytes += data.length;
      if (batchBytes >= GREP_MAX_FILE) await flush();
    }
    await flush();
    const files = hitFiles.size;
    const at = atText(view, args.version, args.path ?? '/');
    let text = out.length > 0 ? out.join('\n') : `[no matches for /${args.pattern}/ under ${path}${at}${offset > 0 && total > 0 ? ` past offset ${offset}` : ''}]`;
    if (offset + out.length < total) {
      text += `\n[showing matches ${offset + 1}–${offset + out.length} of ${total} in ${plural(files, 'file')}; call Grep with offset=${offset + out.length} for more, or narrow path/glob]`;
    }
    if (skipped.length > 0) text += `\n[skipped ${plural(skipped.length, 'file')} over ${GREP_MAX_FILE / 1024 / 1024} MiB (Read them in pages): ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', …' : ''}]`;
    return { text };
  },
});
