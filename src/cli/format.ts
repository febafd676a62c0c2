import type { Stat } from '../fs/types.js';

const TYPE_CHAR: Record<Stat['type'], string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', char: 'c', block: 'b', socket: 's' };

export function modeString(st: Stat): string {
  const m = st.mode;
  const rwx = (shift: number, special: number, ch: string): string =>
    `${m & (4 << shift) ? 'r' : '-'}${m & (2 << shift) ? 'w' : '-'}${m & special ? (m & (1 << shift) ? ch : ch.toUpperCase()) : m & (1 << shift) ? 'x' : '-'}`;
  return TYPE_CHAR[st.type] + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function longListing(name: string, st: Stat, target?: string): string {
  return `${modeString(st)} ${String(st.nlink).padStart(3)} ${String(st.uid).padStart(5)} ${String(st.gid).padStart(5)} ${String(st.size).padStart(10)} ${isoTime(st.mtimeMs)} ${name}${target !== undefined ? ` -> ${target}` : ''}`;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
