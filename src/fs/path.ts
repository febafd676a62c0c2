import { parseVersion, type Version } from '../store/version.js';
import { fsError } from './errors.js';

/**
 * Path parsing, in one place. Paths are POSIX-style, always relative to the agent's root: `..`
 * never climbs above `/`, `.` and empty components vanish, NUL is refused.
 *
 * Time travel: a component may end in `@<20-hex version>` or `@<RFC 3339 timestamp>`. The whole
 * path is then read at that version — `/docs@V/a.md` and `/docs/a.md@V` both mean "the file at
 * /docs/a.md as it was at V" — and it is read-only. At most one selector per path.
 *
 * A selector on `.` or on nothing selects the directory it stands in: `/@V` and `/.@V` are the root
 * at V (the only way to name the root's past), `/docs/@V` is `/docs@V`.
 *
 * Shadowing rule: a name ending in `@` + 20 hex digits or `@` + an RFC 3339 timestamp is *reserved*
 * for selectors. Such a file cannot be created (EROFS) and is never looked up literally. Every other
 * name containing `@` (`user@host.txt`, `a@b@c`, `x@123`) is an ordinary name.
 */
export const MAX_NAME_BYTES = 255;
/**
 * Longest whole path. Not PATH_MAX (4096): that limits what one syscall passes, relative to the
 * caller's directory, while the mount hands us paths from its root, which may be longer
 * (pjdfstest creates 4,095-byte relative paths below a test directory). Names stay ≤ 255 bytes.
 */
export const MAX_PATH_BYTES = 32 * 1024;

export type Selector = { kind: 'version'; version: Version; text: string } | { kind: 'time'; date: Date; text: string };

export interface ParsedPath {
  /** Plain component names from the root (selectors stripped). */
  names: string[];
  selector: Selector | null;
  /** The normalized path without selectors, e.g. '/docs/a.md' ('/' for the root). */
  path: string;
  /**
   * The path ends in '/' (or '/.', or a selector standing for its directory: `/docs/@V`), so it
   * must name a directory, as in POSIX: `put f /dir/` never creates a file named `dir`.
   */
  dirOnly: boolean;
}

const HEX20 = /^[0-9a-fA-F]{20}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Splits `name@suffix` when the suffix is a version or timestamp; null for ordinary names. `name` may be '' or '.' (the directory itself). */
export function splitSelector(component: string): { name: string; selector: Selector } | null {
  const at = component.lastIndexOf('@');
  if (at < 0) return null;
  const name = component.slice(0, at);
  const text = component.slice(at + 1);
  if (HEX20.test(text)) return { name, selector: { kind: 'version', version: parseVersion(text), text } };
  if (RFC3339.test(text)) {
    const date = new Date(text.replace(' ', 'T'));
    if (Number.isNaN(date.getTime())) throw fsError('EINVAL', `invalid timestamp '${text}' in path`);
    return { name, selector: { kind: 'time', date, text } };
  }
  return null;
}

export function parsePath(input: string): ParsedPath {
  if (typeof input !== 'string') throw fsError('EINVAL', 'path must be a string');
  if (input.includes('\0')) throw fsError('EINVAL', 'path contains a NUL byte', input);
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) throw fsError('ENAMETOOLONG', `path longer than ${MAX_PATH_BYTES} bytes`, input.slice(0, 80));
  const names: string[] = [];
  let selector: Selector | null = null;
  // whether the last component seen stands for a directory ('', '.', '..', `.@V`) rather than naming an entry
  let dirOnly = false;
  for (const raw of input.split('/')) {
    dirOnly = true;
    if (raw === '' || raw === '.') continue;
    if (raw === '..') {
      names.pop();
      continue;
    }
    let name = raw;
    const split = splitSelector(raw);
    if (split) {
      if (selector) throw fsError('EINVAL', `only one @version or @timestamp per path (got '@${selector.text}' and '@${split.selector.text}')`, input);
      selector = split.selector;
      name = split.name;
      if (name === '' || name === '.') continue; // the directory named so far, at that version
      if (name === '..') {
        names.pop();
        continue;
      }
    }
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw fsError('ENAMETOOLONG', `name longer than ${MAX_NAME_BYTES} bytes`, input);
    names.push(name);
    dirOnly = false;
  }
  return { names, selector, path: `/${names.join('/')}`, dirOnly: dirOnly && names.length > 0 };
}

/** Checks a single new entry name (create, mkdir, rename target…). */
export function checkName(name: string, fullPath: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw fsError('EINVAL', `invalid name '${name}'`, fullPath);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw fsError('ENAMETOOLONG', `name longer than ${MAX_NAME_BYTES} bytes`, fullPath);
  if (splitSelector(name)) {
    throw fsError('EROFS', `'${name}' ends in @version/@timestamp, which names a past version and is read-only`, fullPath);
  }
}

export const joinPath = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
};

export const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** True when `p` is `base` or lies under it. */
export const isWithin = (p: string, base: string): boolean => base === '/' || p === base || p.startsWith(`${base}/`);
