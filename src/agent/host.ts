import { AgentFs } from '../fs/agentfs.js';
import type { Store } from '../store/index.js';
import { runTool } from './run.js';
import type { ToolResult } from './tool.js';

export interface AgentHostOptions {
  /** Most agents kept open at once; the least recently used idle one is closed past this. */
  maxOpen?: number;
  /** An agent unused this long is closed (default 5 minutes). */
  idleMs?: number;
  /** Create agents that do not exist yet on first use (default false: unknown agents are ENOENT). */
  create?: boolean;
}

interface Slot {
  fs: AgentFs;
  /** the agent's queue: each call starts when the previous one ended */
  tail: Promise<unknown>;
  pending: number;
  lastUsed: number;
}

/**
 * Many agents in one process. Invariants: calls for one agent run one at a time, in arrival order
 * (an agent is single-threaded, as a model's tool calls are); calls for different agents run
 * concurrently; an agent's filesystem is opened on first use and closed when idle or when the
 * open set is full — an open agent costs a few hundred bytes (its AgentFs and queue), the store's
 * caches are shared and bounded. An agent only ever reaches its own namespace: every call goes
 * through its own AgentFs, and no tool takes an agent or namespace argument.
 */
export class AgentHost {
  private readonly slots = new Map<string, Slot>();
  private readonly opening = new Map<string, Promise<Slot>>();
  private readonly maxOpen: number;
  private readonly idleMs: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly store: Store,
    private readonly options: AgentHostOptions = {},
  ) {
    this.maxOpen = options.maxOpen ?? 10_000;
    this.idleMs = options.idleMs ?? 5 * 60_000;
    this.timer = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.idleMs / 2, 60_000)));
    this.timer.unref();
  }

  /** Runs one tool call for an agent, queued behind the agent's earlier calls. */
  call(agent: string, tool: string, args: unknown): Promise<ToolResult> {
    return this.run(agent, (fs) => runTool(fs, tool, args));
  }

  /** Runs `fn` on the agent's filesystem, serialized with the agent's other calls. */
  async run<T>(agent: string, fn: (fs: AgentFs) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('agent host is closed');
    const slot = await this.slot(agent);
    slot.pending++;
    const result = slot.tail.then(() => fn(slot.fs));
    slot.tail = result.catch(() => undefined).finally(() => {
      slot.pending--;
      slot.lastUsed = Date.now();
    });
    return result;
  }

  /** Agents currently open. */
  get openCount(): number {
    return this.slots.size;
  }

  private async slot(agent: string): Promise<Slot> {
    const hit = this.slots.get(agent);
    if (hit) {
      // Map order is recency order: move to the end
      this.slots.delete(agent);
      this.slots.set(agent, hit);
      hit.lastUsed = Date.now();
      return hit;
    }
    let opening = this.opening.get(agent);
    if (!opening) {
      opening = (async () => {
        const fs = await AgentFs.open(this.store, agent, { create: this.options.create ?? false, actor: 'agent' });
        const slot: Slot = { fs, tail: Promise.resolve(), pending: 0, lastUsed: Date.now() };
        this.slots.set(agent, slot);
        this.evict();
        return slot;
      })().finally(() => this.opening.delete(agent));
      this.opening.set(agent, opening);
    }
    return opening;
  }

  /** Closes least recently used idle agents while more than maxOpen are open. */
  private evict(): void {
    if (this.slots.size <= this.maxOpen) return;
    for (const [name, slot] of this.slots) {
      if (this.slots.size <= this.maxOpen) break;
      if (slot.pending === 0) this.slots.delete(name);
    }
  }

  /** Closes agents idle for longer than idleMs. */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const [name, slot] of this.slots) {
      if (slot.pending === 0 && now - slot.lastUsed >= this.idleMs) {
        this.slots.delete(name);
        n++;
      }
    }
    return n;
  }

  /** Waits for running calls, then closes every agent. The store stays open (its owner closes it). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.slots.values()].map((s) => s.tail));
    this.slots.clear();
  }
}
