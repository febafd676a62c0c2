import { z } from 'zod';
import { fsError } from '../../fs/errors.js';
import { baseName, joinPath, parsePath } from '../../fs/path.js';
import type { FsTx } from '../../fs/tx.js';
import { defineTool } from '../tool.js';
import { WRITE_MAX_BYTES, isBinary, plural } from '../limits.js';
import { bytes, ensureParents, pathArg, readView, versionArg } from './common.js';

function checkSize(content: string, what: string): Buffer {
  const buf = Buffer.from(content, 'utf8');
  if (buf.length > WRITE_MAX_BYTES) throw fsError('EFBIG', `${what} is ${bytes(buf.length)}; one call takes at most ${bytes(WRITE_MAX_BYTES)}: split the file`);
  return buf;
}

const committed = (v: string | null): string => (v ? ` (version ${v})` : ' (nothing changed)');

/** `dst`, or `dst/<name of src>` when dst is an existing directory (cp and mv semantics). */
async function intoDirectory(tx: FsTx, dst: string, srcPath: string): Promise<string> {
  const parsed = tx.writable(dst);
  try {
    const r = await tx.resolve(parsed.names, true, dst);
    if (r.inode.type === 'dir' && parsed.path !== srcPath) return joinPath(parsed.path, baseName(srcPath));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  return parsed.path;
}

export const Write = defineTool({
  name: 'Write',
  description: 'Create or overwrite a text file with `content`. Missing parent directories are created. The previous content stays readable at earlier versions.',
  input: z.strictObject({ path: pathArg(), content: z.string().describe('The whole new content of the file') }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const buf = checkSize(args.content, 'content');
    const res = await fs.transaction(summary, async (tx) => {
      await ensureParents(tx, args.path);
      let existed = true;
      try {
        await tx.resolve(parsePath(args.path).names, true, args.path);
      } catch {
        existed = false;
      }
      await tx.writeFile(args.path, buf);
      return existed;
    });
    return { text: `${res.value ? 'Overwrote' : 'Created'} ${parsePath(args.path).path}: ${bytes(buf.length)}${committed(res.version)}`, version: res.version };
  },
});

export const Edit = defineTool({
  name: 'Edit',
  description:
    'Replace exact text in a file: `old_string` must occur exactly once (include surrounding lines to make it unique), or pass `replace_all: true` to replace every occurrence.',
  input: z.strictObject({
    path: pathArg(),
    old_string: z.string().min(1).describe('Exact text to replace, whitespace included'),
    new_string: z.string().describe('Replacement text'),
    replace_all: z.boolean().optional().describe('Replace every occurrence (default false)'),
  }),
  readOnly: false,
  async run({ fs, summary }, args) {
    if (args.old_string === args.new_string) throw fsError('EINVAL', 'old_string and new_string are the same: nothing to change');
    checkSize(args.new_string, 'new_string');
    const res = await fs.transaction(summary, async (tx) => {
      const parsed = tx.writable(args.path);
      const r = await tx.resolve(parsed.names, true, args.path);
      if (r.inode.type !== 'file') throw fsError(r.inode.type === 'dir' ? 'EISDIR' : 'EINVAL', `${parsed.path} is a ${r.inode.type}, not a file`, parsed.path);
      if (r.inode.size > WRITE_MAX_BYTES) throw fsError('EFBIG', `${parsed.path} is ${bytes(r.inode.size)}: too large to Edit in one call`, parsed.path);
      const data = await tx.readContent(r.ino, r.inode, 0, r.inode.size);
      if (isBinary(data)) throw fsError('EINVAL', `${parsed.path} is a binary file: Edit works on text`, parsed.path);
      const text = data.toString('utf8');
      const count = text.split(args.old_string).length - 1;
      if (count === 0) throw fsError('EINVAL', `old_string was not found in ${parsed.path}: Read the file and copy the exact text, whitespace included`, parsed.path);
      if (count > 1 && !args.replace_all) {
        throw fsError('EINVAL', `old_string occurs ${count} times in ${parsed.path}: include more surrounding text to make it unique, or pass replace_all: true`, parsed.path);
      }
      const next = args.replace_all ? text.split(args.old_string).join(args.new_string) : text.replace(args.old_string, () => args.new_string);
      const buf = checkSize(next, 'the edited file');
      await tx.writeFile(parsed.path, buf, r.inode.mode & 0o7777);
      return { count: args.replace_all ? count : 1, path: parsed.path };
    });
    return { text: `Edited ${res.value.path}: replaced ${plural(res.value.count, 'occurrence')}${committed(res.version)}`, version: res.version };
  },
});

export const Mkdir = defineTool({
  name: 'Mkdir',
  description: 'Create a directory, with any missing parents (like mkdir -p). An existing directory is fine.',
  input: z.strictObject({ path: pathArg('Directory to create, e.g. /docs/notes') }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const res = await fs.transaction(summary, (tx) => tx.mkdirp(args.path, 0o755));
    const path = parsePath(args.path).path;
    return { text: res.version ? `Created directory ${path} (version ${res.version})` : `${path} already exists (nothing changed)`, version: res.version };
  },
});

export const Delete = defineTool({
  name: 'Delete',
  description:
    'Delete a file, symlink or empty directory; `recursive: true` deletes a directory with everything in it. Nothing is lost: the result names the version to restore from with Copy.',
  input: z.strictObject({
    path: pathArg(),
    recursive: z.boolean().optional().describe('Delete a non-empty directory and its contents (default false)'),
  }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const res = await fs.transaction(summary, async (tx) => {
      const parsed = tx.writable(args.path);
      if (parsed.names.length === 0) throw fsError('EBUSY', 'cannot delete the root directory: delete its entries instead', '/');
      const r = await tx.resolve(parsed.names, false, args.path);
      if (r.inode.type === 'dir' && !args.recursive) {
        if ((await tx.readdir(r.ino, parsed.path)).length > 0) {
          throw fsError('ENOTEMPTY', `${parsed.path} is a non-empty directory: pass recursive: true to delete it and its contents`, parsed.path);
        }
        await tx.rmdir(parsed.path);
      } else {
        await tx.remove(parsed.path, true);
      }
      return { path: parsed.path, before: tx.version, type: r.inode.type };
    });
    const { path, before, type } = res.value;
    return {
      text:
        `Deleted ${type === 'dir' ? 'directory ' : ''}${path}${committed(res.version)}. ` +
        `It is still readable at version ${before}; to restore it: Copy(src_path="${path}", dst_path="${path}", src_version="${before}")`,
      version: res.version,
    };
  },
});

export const Move = defineTool({
  name: 'Move',
  description: 'Move or rename a file or directory. Into an existing directory if `dst_path` is one; replaces an existing file. Missing parent directories are created.',
  input: z.strictObject({ src_path: pathArg('Path to move'), dst_path: pathArg('New path (or an existing directory to move into)') }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const res = await fs.transaction(summary, async (tx) => {
      const src = tx.writable(args.src_path);
      const dst = await intoDirectory(tx, args.dst_path, src.path);
      await ensureParents(tx, dst);
      await tx.rename(src.path, dst);
      return { src: src.path, dst };
    });
    return { text: `Moved ${res.value.src} to ${res.value.dst}${committed(res.version)}`, version: res.version };
  },
});

export const Copy = defineTool({
  name: 'Copy',
  description:
    'Copy a file or directory tree — from now, or from any past version (`src_version` or `src_path@version`): this is how deleted or overwritten files are restored. Copies share content, so even big trees copy instantly. Replaces an existing file at `dst_path`; into an existing directory if `dst_path` is one — except a directory from the past copied onto its own path (`src_path` = `dst_path`), which is put back exactly as it was then.',
  input: z.strictObject({
    src_path: pathArg('Path to copy from'),
    dst_path: pathArg('Path to copy to (always written at the current version)'),
    src_version: versionArg.describe('Version (or time) to copy from, e.g. from GetVersionAtTimestamp; omit for the current state'),
  }),
  readOnly: false,
  async run({ fs, summary }, args) {
    const { view, path: srcPath } = await readView(fs, args.src_path, args.src_version);
    const past = args.src_version !== undefined || parsePath(args.src_path).selector !== null;
    const res = await fs.transaction(summary, async (tx) => {
      const dst = await intoDirectory(tx, args.dst_path, srcPath);
      await ensureParents(tx, dst);
      tx.batch.touch(srcPath);
      const counts = await tx.copyFrom(view, srcPath, dst);
      return { dst, before: tx.version, ...counts };
    });
    const { dst, before, files, dirs, bytes: n, restored } = res.value;
    const what = dirs > 0 ? `${plural(files, 'file')} in ${plural(dirs, 'directory', 'directories')}` : bytes(n);
    if (restored) {
      return {
        text: `Restored ${dst} to how it was at version ${view.version}: ${what}${committed(res.version)}. Anything added there since is gone from the current state; what it held just before is readable at version ${before}.`,
        version: res.version,
      };
    }
    return { text: `Copied ${srcPath}${past ? `@${view.version}` : ''} to ${dst}: ${what}${committed(res.version)}`, version: res.version };
  },
});
