import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { AgentFs } from '../../fs/agentfs.js';
import { parsePath } from '../../fs/path.js';
import type { FsTx } from '../../fs/tx.js';
import { action } from '../context.js';
import { humanBytes } from '../format.js';
import { progress, type Progress } from '../progress.js';

/** Import commits in parts so one huge tree never sits in one in-memory batch. */
const FILES_PER_COMMIT = 2000;
const BYTES_PER_COMMIT = 256 * 1024 * 1024;

interface LocalEntry {
  rel: string;
  kind: 'dir' | 'file' | 'symlink';
  mode: number;
  mtimeMs: number;
  size: number;
  target?: string;
}

async function scan(root: string): Promise<LocalEntry[]> {
  const out: LocalEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dirents = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    dirents.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const d of dirents) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const full = path.join(root, r);
      const st = await fsp.lstat(full);
      if (d.isDirectory()) {
        out.push({ rel: r, kind: 'dir', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: 0 });
        await walk(r);
      } else if (d.isSymbolicLink()) {
        out.push({ rel: r, kind: 'symlink', mode: 0o777, mtimeMs: st.mtimeMs, size: 0, target: await fsp.readlink(full) });
      } else if (d.isFile()) {
        out.push({ rel: r, kind: 'file', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: st.size });
      }
    }
  };
  await walk('');
  return out;
}

async function importPart(fs: AgentFs, localRoot: string, dest: string, part: LocalEntry[], label: string, bar: Progress): Promise<void> {
  await fs.transaction(label, async (tx: FsTx) => {
    for (const e of part) {
      const p = `${dest === '/' ? '' : dest}/${e.rel}`;
      if (e.kind === 'dir') {
        const exists = await tx.resolve(parsePath(p).names, true).then(() => true, () => false);
        if (!exists) await tx.mkdir(p, e.mode);
      } else if (e.kind === 'symlink') {
        await tx.symlink(e.target!, p);
      } else {
        await tx.writeFile(p, await fsp.readFile(path.join(localRoot, e.rel)), e.mode);
        const r = await tx.resolve(parsePath(p).names, false);
        await tx.setattr(r.ino, { mtime: e.mtimeMs });
      }
    }
  });
  bar.tick(part.length, part[part.length - 1]?.rel ?? '');
}

export function registerTransferCommands(program: Command): void {
  program
    .command('import')
    .description('copy a local directory tree into the agent filesystem (commits in parts, with progress)')
    .argument('<localdir>')
    .argument('<path>', 'destination directory (created if missing)')
    .action(
      action(async (ctx, localdir: string, dest: string) => {
        const fs = await ctx.fs();
        const root = path.resolve(localdir);
        if (!(await fsp.stat(root)).isDirectory()) throw new Error(`${localdir} is not a directory`);
        const entries = await scan(root);
        const total = entries.reduce((n, e) => n + e.size, 0);
        const destPath = parsePath(dest).path;
        await fs.mkdir(destPath, { recursive: true });
        const bar = progress('import', 'entries', ctx.logger);
        bar.total(entries.length);
        let part: LocalEntry[] = [];
        let bytes = 0;
        let n = 0;
        for (const e of entries) {
          part.push(e);
          bytes += e.size;
          if (part.length >= FILES_PER_COMMIT || bytes >= BYTES_PER_COMMIT) {
            await importPart(fs, root, destPath, part, `import ${root} -> ${destPath} (part ${++n})`, bar);
            part = [];
            bytes = 0;
          }
        }
        if (part.length) await importPart(fs, root, destPath, part, `import ${root} -> ${destPath}${n ? ` (part ${++n})` : ''}`, bar);
        bar.stop();
        ctx.print(`imported ${entries.length} entries (${humanBytes(total)}) into ${destPath} at version ${await fs.head()}`);
      }),
    );

  program
    .command('export')
    .description('copy a tree (PATH may carry @version or @timestamp) to a local directory, with progress')
    .argument('<path>')
    .argument('<localdir>', 'created if missing')
    .action(
      action(async (ctx, src: string, localdir: string) => {
        const fs = await ctx.fs();
        const { view, parsed } = await fs.viewFor(src);
        const root = await view.resolve(parsed.names, true, src);
        const out = path.resolve(localdir);
        await fsp.mkdir(out, { recursive: true });
        const bar = progress('export', 'entries', ctx.logger);
        let count = 0;
        let bytes = 0;
        const dirs: Array<[string, number]> = [];
        if (root.inode.type !== 'dir') {
          const file = path.join(out, parsed.names[parsed.names.length - 1] ?? 'file');
          await fsp.writeFile(file, await view.readContent(root.ino, root.inode, 0, root.inode.size), { mode: root.inode.mode });
          count = 1;
          bytes = root.inode.size;
        } else {
          for await (const { rel, entry, inode } of view.walk(root.ino)) {
            const target = path.join(out, rel);
            if (inode.type === 'dir') {
              await fsp.mkdir(target, { recursive: true });
              dirs.push([target, inode.mtime]);
            } else if (inode.type === 'symlink') {
              await fsp.rm(target, { force: true });
              await fsp.symlink(inode.target ?? '', target);
            } else if (inode.type === 'file') {
              await fsp.writeFile(target, await view.readContent(entry.ino, inode, 0, inode.size), { mode: inode.mode & 0o777 });
              await fsp.chmod(target, inode.mode & 0o7777);
              await fsp.utimes(target, inode.atime / 1000, inode.mtime / 1000);
              bytes += inode.size;
            }
            count++;
            bar.tick(1, rel);
          }
          for (const [d, mtime] of dirs.reverse()) await fsp.utimes(d, mtime / 1000, mtime / 1000);
        }
        bar.stop();
        ctx.print(`exported ${count} entries (${humanBytes(bytes)}) from version ${view.version} to ${out}`);
      }),
    );
}
