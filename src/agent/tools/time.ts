import { z } from 'zod';
import { agentVersionAt } from '../../apps/version-at.js';
import { fsError } from '../../fs/errors.js';
import { parsePath } from '../../fs/path.js';
import { parseTimeSpec } from '../../fs/timespec.js';
import { parseVersion, type Version } from '../../fs/index.js';
import { defineTool } from '../tool.js';
import { DIFF_MAX_CHARS, plural } from '../limits.js';
import { bytes, limitArg, pathArg } from './common.js';

export const GetVersionAtTimestamp = defineTool({
  name: 'GetVersionAtTimestamp',
  description:
    'Turn a point in time into a version: the state of the whole filesystem, and of your app databases, at that moment. Accepts RFC 3339 ("2026-11-22T10:00:00Z") or natural language ("3 days ago", "yesterday at 5pm"; UTC unless a zone is named). Pass the version to Read, List, Glob, Grep, Stat, Diff, or Copy (src_version) to restore.',
  input: z.strictObject({ timestamp: z.string().min(1).describe('When: RFC 3339 or a phrase like "3 days ago"') }),
  readOnly: true,
  async run({ fs }, args) {
    const now = new Date(fs.store.clock());
    const when = await parseTimeSpec(args.timestamp, now);
    const version = await agentVersionAt(fs, when); // the moment for the files and the app databases alike
    return {
      text:
        `${version}\n` +
        `[the filesystem as it was at ${when.toISOString()} ("${args.timestamp}", now is ${now.toISOString()}). ` +
        `Read the past with version="${version}"; restore with Copy(src_path, dst_path, src_version="${version}")]`,
    };
  },
});

export const History = defineTool({
  name: 'History',
  description:
    'The versions at which a file or directory (or anything under it) changed, newest first: version, time, who, what. Each version shows the state right after that change. Page with `before` (a version from the previous page).',
  input: z.strictObject({
    path: pathArg(),
    limit: limitArg('How many changes to return (default 20, at most 1000)'),
    before: z.string().optional().describe('Only changes older than this version (for paging)'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const path = parsePath(args.path).path;
    const page = await fs.history(args.path, { limit: args.limit ?? 20, ...(args.before ? { before: parseVersion(args.before) } : {}) });
    if (page.entries.length === 0) return { text: `[no recorded changes of ${path}${args.before ? ` before ${args.before}` : ''}]` };
    const lines = page.entries.map((e) => `${e.version}  ${e.time.toISOString()}  ${e.actor}  ${e.summary}`);
    let text = `${plural(page.entries.length, 'change')} of ${path}, newest first (version  time  actor  summary):\n${lines.join('\n')}`;
    if (page.next) text += `\n[more: call History with before="${page.next}"]`;
    return { text };
  },
});

export const Diff = defineTool({
  name: 'Diff',
  description:
    'Compare a file or directory between two versions (`to_version` defaults to now): a unified diff for text, sizes and hashes for binary files, added/removed/modified paths for directories.',
  input: z.strictObject({
    path: pathArg(),
    from_version: z.string().min(1).describe('Older version (or a time such as "yesterday")'),
    to_version: z.string().min(1).optional().describe('Newer version (or time); omit for the current state'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const from = await fs.resolveVersion(args.from_version);
    const to = args.to_version ? await fs.resolveVersion(args.to_version) : await fs.head();
    const d = await fs.diff(args.path, from, to);
    const existsAt = async (v: Version) => fs.exists(parsePath(args.path).path, v);
    if (d.kind !== 'tree' && !(await existsAt(from)) && !(await existsAt(to))) {
      throw fsError('ENOENT', `${d.path} exists at neither ${from} nor ${to}: History(path) lists the versions where it changed`, d.path);
    }
    if (d.kind === 'text') {
      if (!d.changed) return { text: `[${d.path} is the same at ${from} and ${to}]` };
      const patch = d.patch.length > DIFF_MAX_CHARS ? `${d.patch.slice(0, DIFF_MAX_CHARS)}\n[diff cut at ${DIFF_MAX_CHARS.toLocaleString('en-US')} characters; Read both versions in pages to see the rest]` : d.patch;
      return { text: patch };
    }
    if (d.kind === 'binary') {
      const side = (s: typeof d.from) => (s.exists ? `${bytes(s.size)}${s.sha256 ? `, sha256 ${s.sha256}` : ''}` : 'absent');
      return { text: `[${d.path}: ${d.changed ? 'changed' : 'unchanged'} (binary or large)]\nfrom ${from}: ${side(d.from)}\nto   ${to}: ${side(d.to)}` };
    }
    const cap = (xs: string[]) => (xs.length > 200 ? [...xs.slice(0, 200), `… and ${xs.length - 200} more`] : xs);
    const parts = [
      `${d.path} from ${from} to ${to}: ${d.added.length} added, ${d.removed.length} removed, ${d.modified.length} modified`,
      ...cap(d.added).map((p) => `+ ${p}`),
      ...cap(d.removed).map((p) => `- ${p}`),
      ...cap(d.modified).map((p) => `M ${p}`),
    ];
    return { text: parts.join('\n') };
  },
});
