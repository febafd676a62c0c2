import { z } from 'zod';
import type { AgentFs } from '../../fs/agentfs.js';
import { fsError } from '../../fs/errors.js';
import { parsePath } from '../../fs/path.js';
import type { FsTx } from '../../fs/tx.js';
import type { FsView } from '../../fs/view.js';
import type { Version } from '../../fs/index.js';

export const pathArg = (what = 'Absolute path in the agent filesystem, e.g. /docs/a.md') => z.string().min(1).describe(what);

export const versionArg = z
  .string()
  .min(1)
  .optional()
  .describe('Read the past: a 20-hex version (from GetVersionAtTimestamp or History) or a time ("2026-11-22T10:00:00Z", "3 days ago"). Omit for the current state. `path@version` works too.');

export const offsetArg = (what: string) => z.number().int().min(0).optional().describe(what);
export const limitArg = (what: string) => z.number().int().min(1).optional().describe(what);

/** A version argument (20-hex or a time) as a readable version; undefined means head. */
export async function versionOf(fs: AgentFs, spec: string | undefined): Promise<Version | undefined> {
  if (spec === undefined) return undefined;
  return fs.resolveVersion(spec);
}

/** The view a read tool works on, honouring both `version` and `path@version`, and the resolved path. */
export async function readView(fs: AgentFs, path: string, version: string | undefined): Promise<{ view: FsView; names: string[]; path: string }> {
  const at = await versionOf(fs, version);
  const { view, parsed } = await fs.viewFor(path, at);
  return { view, names: parsed.names, path: parsed.path };
}

/** Suffix naming the version a read happened at, for past reads only. */
export const atText = (view: FsView, version: string | undefined, path: string): string =>
  version !== undefined || parsePath(path).selector ? ` at version ${view.version}` : '';

/** Creates the missing parent directories of a path being written (agents expect `mkdir -p`). */
export async function ensureParents(tx: FsTx, path: string): Promise<void> {
  const parsed = tx.writable(path);
  if (parsed.names.length === 0) throw fsError('EISDIR', 'the root directory is not a file', '/');
  if (parsed.names.length > 1) await tx.mkdirp(`/${parsed.names.slice(0, -1).join('/')}`);
}

/** Human-readable byte count. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
