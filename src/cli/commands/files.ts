import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import type { Command } from 'commander';
import type { AgentFs } from '../../fs/agentfs.js';
import { FsError } from '../../fs/errors.js';
import { baseName, joinPath, parsePath } from '../../fs/path.js';
import { action } from '../context.js';
import { humanBytes, isoTime, longListing, modeString } from '../format.js';

/** Writes chunks to a local file, or to stdout (respecting back-pressure) when handle is null. */
async function writeOut(chunks: AsyncIterable<Buffer>, handle: fsp.FileHandle | null): Promise<void> {
  for await (const chunk of chunks) {
    if (handle) await handle.write(chunk);
    else if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function registerFileCommands(program: Command): void {
  program
    .command('ls')
    .description('list a directory (PATH may carry @version or @timestamp)')
    .argument('[path]', 'directory or file', '/')
    .option('-l, --long', 'long listing: mode, links, owner, size, mtime')
    .action(
      action(async (ctx, path: string, opts: { long?: boolean }) => {
        const fs = await ctx.fs();
        const st = await fs.stat(path);
        if (st.type !== 'dir') {
          ctx.print(opts.long ? longListing(path, st) : path);
          return;
        }
        const { entries, version } = await fs.readdirPlus(path);
        if (ctx.options.json) return ctx.json({ version, entries: entries.map((e) => ({ name: e.name, type: e.type, size: e.stat.size, mode: e.stat.mode, mtime: isoTime(e.stat.mtimeMs) })) });
        for (const e of entries) {
          if (!opts.long) ctx.print(e.name);
          else {
            const target = e.type === 'symlink' ? await fs.readlink(`${parsePath(path).path}/${e.name}`, version) : undefined;
            ctx.print(longListing(e.name, e.stat, target));
          }
        }
      }),
    );

  program
    .command('cat')
    .description('print a file (PATH may carry @version or @timestamp)')
    .argument('<path>')
    .action(
      action(async (ctx, path: string) => {
        const fs = await ctx.fs();
        if ((await fs.stat(path)).type === 'dir') throw new FsError('EISDIR', `EISDIR: ${path} is a directory (use ls)`);
        await writeOut((await fs.readChunks(path)).chunks, null);
      }),
    );

  program
    .command('put')
    .description("store a local file ('-' for stdin) at PATH, creating or replacing it")
    .argument('<local>', "local file, or '-' for stdin")
    .argument('<path>', 'destination in the agent filesystem')
    .option('-p, --parents', 'create missing parent directories')
    .action(
      action(async (ctx, local: string, path: string, opts: { parents?: boolean }) => {
        const fs = await ctx.fs();
        const data = local === '-' ? await readStdin() : await fsp.readFile(local);
        const mode = local === '-' ? 0o644 : (await fsp.stat(local)).mode & 0o7777;
        // like cp and scp: into an existing directory (`put notes.md /docs/`) keeps the local name
        const target = local !== '-' && (await isDirectory(fs, path)) ? joinPath(parsePath(path).path, nodePath.basename(local)) : path;
        const version = await fs.writeFile(target, data, { mode, ...(opts.parents ? { parents: true } : {}) });
        ctx.print(`wrote ${parsePath(target).path} (${humanBytes(data.length)}) ${atVersion(version)}`);
      }),
    );

  program
    .command('get')
    .description("copy a file (PATH may be versioned) to a local file ('-' for stdout)")
    .argument('<path>')
    .argument('<local>', "local file, or '-' for stdout")
    .action(
      action(async (ctx, path: string, local: string) => {
        const fs = await ctx.fs();
        const { stat: st, chunks } = await fs.readChunks(path);
        const handle = local === '-' ? null : await fsp.open(local, 'w', st.mode & 0o777);
        try {
          await writeOut(chunks, handle);
        } finally {
          await handle?.close();
        }
        if (handle) ctx.print(`wrote ${local} (${humanBytes(st.size)}) from version ${st.version}`);
      }),
    );

  program
    .command('mkdir')
    .description('create directories')
    .argument('<paths...>')
    .option('-p, --parents', 'create parents as needed; no error if it exists')
    .action(
      action(async (ctx, paths: string[], opts: { parents?: boolean }) => {
        const fs = await ctx.fs();
        for (const path of paths) {
          const version = await fs.mkdir(path, { recursive: opts.parents ?? false });
          ctx.print(version ? `created ${parsePath(path).path} at version ${version}` : `${parsePath(path).path} exists`);
        }
      }),
    );

  program
    .command('rm')
    .description('remove a file, or a directory tree with -r (history keeps it: restore with cp from a version)')
    .argument('<paths...>')
    .option('-r, --recursive', 'remove directories and their contents')
    .option('-f, --force', 'ignore missing paths')
    .action(
      action(async (ctx, paths: string[], opts: { recursive?: boolean; force?: boolean }) => {
        const fs = await ctx.fs();
        for (const p of paths) {
          const version = await fs.rm(p, { recursive: opts.recursive ?? false, force: opts.force ?? false });
          if (version) ctx.print(`removed ${parsePath(p).path} at version ${version}`);
        }
      }),
    );

  program
    .command('mv')
    .description('rename or move a file or directory')
    .argument('<src>')
    .argument('<dst>', 'new path, or an existing directory to move into')
    .action(
      action(async (ctx, src: string, dst: string) => {
        const fs = await ctx.fs();
        const target = await intoDirectory(fs, src, dst);
        const version = await fs.rename(src, target);
        ctx.print(`moved ${parsePath(src).path} -> ${parsePath(target).path} ${atVersion(version)}`);
      }),
    );

  program
    .command('cp')
    .description('copy a file or tree; SRC may carry @version or @timestamp — this is how you restore (cp -r DIR@V DIR puts DIR back as it was)')
    .argument('<src>')
    .argument('<dst>', 'destination path, or an existing directory to copy into')
    .option('-r, --recursive', 'copy directories')
    .action(
      action(async (ctx, src: string, dst: string, opts: { recursive?: boolean }) => {
        const fs = await ctx.fs();
        const st = await fs.lstat(src);
        if (st.type === 'dir' && !opts.recursive) throw new FsError('EISDIR', `EISDIR: ${src} is a directory (use cp -r)`);
        const target = await intoDirectory(fs, src, dst);
        const res = await fs.copy(src, target);
        const counts = `${res.files} files, ${humanBytes(res.bytes)}, content shared`;
        if (res.restored) ctx.print(`restored ${parsePath(target).path} as it was at ${src} (${counts}) ${atVersion(res.version)}; what it held before is at ${parsePath(target).path}@${res.before}`);
        else ctx.print(`copied ${src} -> ${parsePath(target).path} (${counts}) ${atVersion(res.version)}`);
      }),
    );

  program
    .command('stat')
    .description('show the attributes of a path (may be versioned)')
    .argument('<path>')
    .option('-L, --dereference', 'follow a final symlink')
    .action(
      action(async (ctx, path: string, opts: { dereference?: boolean }) => {
        const fs = await ctx.fs();
        const st = await fs.stat(path, { follow: opts.dereference ?? false });
        if (ctx.options.json) return ctx.json(st);
        ctx.print(
          [
            `  path: ${path}`,
            `  type: ${st.type}   size: ${st.size}   inode: ${st.ino}   links: ${st.nlink}`,
            `  mode: ${(st.mode & 0o7777).toString(8).padStart(4, '0')} (${modeString(st)})   uid: ${st.uid}   gid: ${st.gid}`,
            `access: ${isoTime(st.atimeMs)}`,
            `modify: ${isoTime(st.mtimeMs)}`,
            `change: ${isoTime(st.ctimeMs)}`,
            `version: ${st.version}`,
          ].join('\n'),
        );
      }),
    );
}

/** True when `path` (at head) is an existing directory; a versioned path never is: nothing is written into the past. */
async function isDirectory(fs: AgentFs, path: string): Promise<boolean> {
  if (parsePath(path).selector) return false;
  return (await fs.exists(path)) && (await fs.stat(path)).type === 'dir';
}

/**
 * POSIX cp/mv: a destination that is an existing directory means dir/basename(src). A destination
 * carrying @version is left as it is, so the write is refused (EROFS) — never redirected to the
 * same directory at head.
 */
async function intoDirectory(fs: AgentFs, src: string, dst: string): Promise<string> {
  const s = parsePath(src).path;
  const d = parsePath(dst).path;
  return d !== s && (await isDirectory(fs, dst)) ? joinPath(d, baseName(s)) : dst;
}

/** "at version V", or what a commit that changed nothing (mv a a, a write of the same bytes…) means. */
const atVersion = (version: string | null): string => (version ? `at version ${version}` : '(nothing changed: no new version)');
