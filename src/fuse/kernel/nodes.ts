import type { Version } from '../../store/version.js';
import { ROOT_ID } from './abi.js';

/**
 * What a kernel node id stands for. Head nodes use the timefs inode number as their node id, so
 * one file has one kernel inode whatever name reached it (hard links share cached attributes, and
 * nothing needs invalidating when another name changes the file). Past nodes — anything reached
 * through `name@version` — get ids from PAST_BASE up, one per (version, inode).
 *
 * `parent`/`name` are the last name the kernel reached the node by; they only label commits for
 * history (the kernel resolves paths itself, we never walk them), so a stale name after another
 * surface renamed something costs a less precise history entry, never a wrong file.
 */
export interface Node {
  id: number;
  ino: number;
  /** set for past nodes: read-only, read at this version */
  version?: Version;
  parent: number;
  name: string;
  /** the kernel's lookup count: the node may be dropped when FORGET brings it to 0 */
  lookups: number;
}

/** Node ids of past nodes start here; inode numbers (a counter from 1) never get this far. */
const PAST_BASE = 2 ** 48;

export class NodeTable {
  private readonly nodes = new Map<number, Node>();
  private readonly pastIds = new Map<string, number>();
  private nextPast = PAST_BASE;

  constructor() {
    this.nodes.set(ROOT_ID, { id: ROOT_ID, ino: 1, parent: ROOT_ID, name: '', lookups: 1 });
  }

  get(id: number): Node | undefined {
    const node = this.nodes.get(id);
    if (node || id >= PAST_BASE) return node;
    // a head node forgotten by us but still named by the kernel (cannot happen by the protocol,
    // but the inode number is the id, so it can still be served)
    return { id, ino: id, parent: ROOT_ID, name: '', lookups: 0 };
  }

  /** Counts a lookup (LOOKUP, CREATE, MKDIR…, READDIRPLUS entries) and returns the node id. */
  remember(ino: number, parent: number, name: string, version?: Version): number {
    const id = version ? this.pastId(version, ino) : ino;
    const node = this.nodes.get(id);
    if (node) {
      node.lookups++;
      node.parent = parent;
      node.name = name;
    } else {
      this.nodes.set(id, { id, ino, parent, name, lookups: 1, ...(version ? { version } : {}) });
    }
    return id;
  }

  private pastId(version: Version, ino: number): number {
    const key = `${version}/${ino}`;
    let id = this.pastIds.get(key);
    if (id === undefined) {
      id = this.nextPast++;
      this.pastIds.set(key, id);
    }
    return id;
  }

  forget(id: number, n: number): void {
    const node = this.nodes.get(id);
    if (!node || id === ROOT_ID) return;
    node.lookups -= n;
    if (node.lookups > 0) return;
    this.nodes.delete(id);
    if (node.version) this.pastIds.delete(`${node.version}/${node.ino}`);
  }

  /** Moves a head node's name after a rename made through the mount. */
  moved(ino: number, parent: number, name: string): void {
    const node = this.nodes.get(ino);
    if (node) {
      node.parent = parent;
      node.name = name;
    }
  }

  /** The node's path from the root by the names it was reached through (without @version). */
  pathOf(id: number): string {
    const names: string[] = [];
    let node = this.get(id);
    for (let hops = 0; node && node.id !== ROOT_ID && hops < 4096; hops++) {
      names.push(node.name);
      node = this.get(node.parent);
    }
    return `/${names.reverse().join('/')}`;
  }

  /** The head nodes the kernel holds (what it may have cached about the present). */
  *heads(): IterableIterator<Node> {
    for (const node of this.nodes.values()) if (!node.version) yield node;
  }

  get size(): number {
    return this.nodes.size;
  }
}
