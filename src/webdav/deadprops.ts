import type { Inode } from '../fs/types.js';
import type { FsView } from '../fs/view.js';

/**
 * Dead properties live in the filesystem as xattrs named `dav:{namespace}local`, valued with the
 * property's inner XML (self-contained, see xml.ts). So they have versions, and COPY/MOVE carry them.
 */
export const DEAD_PREFIX = 'dav:';

export interface DeadProp {
  ns: string;
  local: string;
  /** inner XML */
  xml: string;
}

export function parseDeadName(xattr: string): { ns: string; local: string } | null {
  const m = /^dav:\{([^}]*)\}(.+)$/.exec(xattr);
  return m ? { ns: m[1]!, local: m[2]! } : null;
}

export const deadName = (ns: string, local: string): string => `${DEAD_PREFIX}{${ns}}${local}`;

export async function readDeadProps(view: FsView, ino: number, inode: Inode): Promise<DeadProp[]> {
  const out: DeadProp[] = [];
  for (const name of await view.listxattr(ino, inode)) {
    const id = parseDeadName(name);
    if (!id) continue;
    const raw = await view.getxattr(ino, name);
    if (raw) out.push({ ...id, xml: (JSON.parse(raw.toString('utf8')) as { x: string }).x });
  }
  return out;
}
