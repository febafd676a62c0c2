import { z } from 'zod';
import { fsError } from '../../fs/errors.js';
import { joinPath } from '../../fs/path.js';
import type { Stat } from '../../fs/types.js';
import { defineTool } from '../tool.js';
import { LIST_DEFAULT_LIMIT, plural } from '../limits.js';
import { atText, bytes, limitArg, offsetArg, pathArg, readView, versionArg } from './common.js';

const describeEntry = (name: string, st: Stat, target?: string): string =>
  st.type === 'dir' ? `${name}/` : st.type === 'symlink' ? `${name} -> ${target ?? '?'}` : st.type === 'file' ? `${name}  (${bytes(st.size)})` : `${name}  (${st.type})`;

export const List = defineTool({
  name: 'List',
  description:
    'List a directory, now or at any past version: one entry per line, directories end in "/", files show their size. Long listings come in pages (`offset`, `limit`, default 500).',
  input: z.strictObject({
    path: pathArg('Directory to list, e.g. / or /docs'),
    version: versionArg,
    offset: offsetArg('Entries to skip (for paging; default 0)'),
    limit: limitArg('Entries to return (default 500)'),
  }),
  readOnly: true,
  async run({ fs }, args) {
    const { view, names, path } = await readView(fs, args.path, args.version);
    const dir = await view.resolve(names, true, args.path);
    if (dir.inode.type !== 'dir') throw fsError('ENOTDIR', `${path} is not a directory: use Read or Stat for a file`, path);
    const entries = (await view.readdir(dir.ino, path)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const offset = args.offset ?? 0;
    const limit = args.limit ?? LIST_DEFAULT_LIMIT;
    const page = entries.slice(offset, offset + limit);
    const inodes = await view.inodesOf(page.map((e) => e.ino));
    const lines = await Promise.all(
      page.map(async (e) => {
        const inode = inodes.get(e.ino) ?? (await view.mustInode(e.ino, joinPath(path, e.name)));
        return describeEntry(e.name, view.statOf(e.ino, inode), inode.target);
      }),
    );
    const at = atText(view, args.version, args.path);
    if (entries.length === 0) return { text: `[${path}${at} is an empty directory]` };
    let text = `${path}${at}: ${plural(entries.length, 'entry', 'entries')}\n${lines.join('\n')}`;
    if (offset + page.length < entries.length) {
      text += `\n[showing entries ${offset + 1}–${offset + page.length} of ${entries.length}; call List with offset=${offset + page.length} for more]`;
    } else if (page.length === 0) {
      text += `\n[offset ${offset} is past the last entry]`;
    }
    return { text };
  },
});

export const Stat_ = defineTool({
  name: 'Stat',
  description: 'Metadata of a file or directory, now or at any past version: type, size, permissions, times, link count.',
  input: z.strictObject({ path: pathArg(), version: versionArg }),
  readOnly: true,
  async run({ fs }, args) {
    const { view, names, path } = await readView(fs, args.path, args.version);
    const r = await view.resolve(names, false, args.path);
    const st = view.statOf(r.ino, r.inode);
    const info: Record<string, unknown> = {
      path,
      type: st.type,
      size: st.size,
      mode: `0${(st.mode & 0o7777).toString(8)}`,
      uid: st.uid,
      gid: st.gid,
      nlink: st.nlink,
      modified: new Date(st.mtimeMs).toISOString(),
      changed: new Date(st.ctimeMs).toISOString(),
      accessed: new Date(st.atimeMs).toISOString(),
      ...(r.inode.type === 'symlink' ? { target: r.inode.target } : {}),
      read_at_version: view.version,
    };
    return { text: JSON.stringify(info, null, 2) };
  },
});
