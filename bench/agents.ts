import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentHost } from '../src/agent/host.js';
import { AgentFs } from '../src/fs/agentfs.js';
import { SqliteEngine } from '../src/kv/sqlite.js';
import { DirBlobStore } from '../src/store/blobs/dir.js';
import { Store } from '../src/store/store.js';
import { fmt, now, printTable, sample, stats, type Row } from './harness.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const ACTIVE = Number(process.env.BENCH_ACTIVE ?? 1_000);
const CALLS_PER_AGENT = 10;
/** simulated model latency between two tool calls of one agent: uniform in [250, 750] ms */
const THINK_MS = [250, 750] as const;

const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const openStore = (dir: string) => new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')) });

export async function benchAgents(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-agents-'));
  const rows: Row[] = [];
  const store = openStore(dir);
  try {
    // --- 10,000 agents created, each with a file, then all open and idle in one AgentHost ---
    const rss0 = process.memoryUsage().rss;
    const t0 = now();
    for (let i = 0; i < AGENTS; i++) {
      const a = await AgentFs.open(store, `agent-${i}`, { create: true });
      await a.writeFile('/hello.txt', `hello from agent ${i}\n`);
    }
    const createMs = now() - t0;
    const host = new AgentHost(store, { maxOpen: AGENTS, idleMs: 3600_000 });
    for (let i = 0; i < AGENTS; i++) await host.call(`agent-${i}`, 'Stat', { path: '/hello.txt' });
    const rss1 = process.memoryUsage().rss;
    rows.push({
      bench: `${AGENTS.toLocaleString('en-US')} agents created (each: namespace + root + one file) and open idle in one AgentHost: process RSS`,
      result: `${mib(rss1)} (+${mib(rss1 - rss0)}, ${((rss1 - rss0) / AGENTS / 1024).toFixed(1)} KiB per agent); created in ${(createMs / 1000).toFixed(1)} s`,
      target: '< 2 GiB',
      ok: rss1 < 2 * 1024 ** 3,
    });

    // --- 1,000 agents active at once, a simulated model latency between calls ---
    const latencies: number[] = [];
    const tools = ['Read', 'Write', 'Edit', 'List'] as const;
    let errors = 0;
    const tActive = now();
    await Promise.all(
      Array.from({ length: ACTIVE }, async (_, a) => {
        const agent = `agent-${a}`;
        await host.call(agent, 'Write', { path: '/work/notes.md', content: `notes of ${agent}\ncounter: 0\n` });
        for (let c = 0; c < CALLS_PER_AGENT; c++) {
          await sleep(THINK_MS[0] + Math.random() * (THINK_MS[1] - THINK_MS[0]));
          const tool = tools[(a + c) % tools.length]!;
          const args =
            tool === 'Read'
              ? { path: '/work/notes.md' }
              : tool === 'Write'
                ? { path: `/work/out-${c}.md`, content: `output ${c} of ${agent}\n`.repeat(20) }
                : tool === 'Edit'
                  ? { path: '/work/notes.md', old_string: /counter: \d+/.exec((await host.call(agent, 'Read', { path: '/work/notes.md' })).text)![0], new_string: `counter: ${c + 1}` }
                  : { path: '/work' };
          const t = now();
          const r = await host.call(agent, tool, args);
          latencies.push(now() - t);
          if (r.isError) errors++;
        }
      }),
    );
    const activeMs = now() - tActive;
    const s = stats(latencies);
    rows.push({
      bench: `${ACTIVE.toLocaleString('en-US')} agents active at once, Read/Write/Edit/List with ${THINK_MS[0]}–${THINK_MS[1]} ms model latency between calls: tool-call p50 / p99`,
      result: `${fmt(s.median)} / ${fmt(s.p99)} (${latencies.length.toLocaleString('en-US')} calls, ${Math.round(latencies.length / (activeMs / 1000))} calls/s, ${errors} errors)`,
      target: 'p99 < 10 ms',
      ok: s.p99 < 10 && errors === 0,
    });
    await host.close();

    // --- throughput without think time: how many tool calls per second one process serves ---
    const busy = new AgentHost(store);
    const tBusy = now();
    let calls = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, a) => {
        for (let c = 0; c < 50; c++) {
          await busy.call(`agent-${a}`, c % 2 ? 'Read' : 'Write', c % 2 ? { path: '/hello.txt' } : { path: `/busy-${c}.txt`, content: `x${c}` });
          calls++;
        }
      }),
    );
    const busyS = (now() - tBusy) / 1000;
    rows.push({ bench: 'saturated: 100 agents calling back to back (half Write, half Read): tool calls/s', result: `${Math.round(calls / busyS).toLocaleString('en-US')}/s` });
    await busy.close();

    // --- open an idle agent + first tool call, with cold caches (a fresh store handle) ---
    const cold = openStore(dir);
    const coldHost = new AgentHost(cold);
    const order = Array.from({ length: 2000 }, (_, i) => `agent-${(i * 7919) % AGENTS}`);
    const open = stats(await sample(async (i) => coldHost.call(order[i]!, 'Read', { path: '/hello.txt' }), order.length));
    rows.push({ bench: 'open an idle agent + first tool call (Read), cold caches: median / p99', result: `${fmt(open.median)} / ${fmt(open.p99)}`, target: '< 2 ms', ok: open.p99 < 2 });
    await coldHost.close();
    await cold.close();
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) printTable('agents', await benchAgents());
