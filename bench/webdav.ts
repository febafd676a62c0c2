import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withMallocTunables } from '../src/cli/tunables.js';
import { fmt, now, printTable, stats, type Row } from './harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function request(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await request(url, 'OPTIONS');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not come up`);
}

/** Runs `n` requests with 8 in flight; returns seconds. */
async function parallel(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t = now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) await fn(next++);
  }));
  return (now() - t) / 1000;
}

async function workload(root: string, small: Buffer[], big: Buffer): Promise<Record<string, number>> {
  await request(`${root}/`, 'MKCOL');
  const base = root;
  await request(`${base}/small/`, 'MKCOL');
  const putSmall = await parallel(small.length, (i) => request(`${base}/small/f${i}.txt`, 'PUT', small[i]));
  const getSmall = await parallel(small.length, (i) => request(`${base}/small/f${i}.txt`, 'GET'));
  let t = now();
  await request(`${base}/big.bin`, 'PUT', big);
  const putBig = (now() - t) / 1000;
  t = now();
  const got = await request(`${base}/big.bin`, 'GET');
  const getBig = (now() - t) / 1000;
  if (!got.body.equals(big)) throw new Error('big GET returned different bytes');
  const pf: number[] = [];
  for (let i = 0; i < 15; i++) {
    t = now();
    const r = await request(`${base}/small/`, 'PROPFIND', undefined, { Depth: '1' });
    pf.push(now() - t);
    if (r.status !== 207) throw new Error(`PROPFIND ${r.status}`);
  }
  return { putSmall, getSmall, putBig, getBig, propfind: stats(pf).median };
}

export async function benchWebdav(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dav-'));
  const procs: ChildProcess[] = [];
  try {
    const tport = await freePort();
    const rport = await freePort();
    procs.push(spawn(process.execPath, [CLI, '--data', path.join(dir, 'timefs'), 'serve', '--port', String(tport), '--no-auth'], { stdio: 'ignore', env: { ...withMallocTunables(process.env), TIMEFS_LOG_LEVEL: 'error' } }));
    fs.mkdirSync(path.join(dir, 'rclone'));
    procs.push(spawn('rclone', ['serve', 'webdav', path.join(dir, 'rclone'), '--addr', `127.0.0.1:${rport}`], { stdio: 'ignore' }));
    const tbase = `http://127.0.0.1:${tport}/dav/default`;
    const rbase = `http://127.0.0.1:${rport}`;
    await waitUp(`${tbase}/`);
    await waitUp(`${rbase}/`);
    const small = Array.from({ length: 1000 }, () => randomBytes(1024));
    const big = randomBytes(100 * 1024 * 1024);
    // three rounds each, alternating, medians: one sample of a 100 MiB upload is mostly noise here
    const rs: Array<Record<string, number>> = [];
    const ts: Array<Record<string, number>> = [];
    for (let k = 0; k < 3; k++) {
      rs.push(await workload(`${rbase}/round${k}`, small, big));
      ts.push(await workload(`${tbase}/round${k}`, small, big));
    }
    const median = (xs: Array<Record<string, number>>): Record<string, number> =>
      Object.fromEntries(Object.keys(xs[0]!).map((key) => [key, xs.map((x) => x[key]!).sort((a, b) => a - b)[1]!]));
    const r = median(rs);
    const t = median(ts);
    const rows: Row[] = [];
    const ratio = (name: string, tt: number, rr: number, unit: string, n: number): void => {
      const v = rr / tt; // throughput ratio = time(rclone) / time(timefs)
      rows.push({ bench: `${name}: timefs ÷ rclone serve webdav (throughput)`, result: `${v.toFixed(2)}× (${(n / tt).toFixed(0)} vs ${(n / rr).toFixed(0)} ${unit})`, target: '≥ 0.5×', ok: v >= 0.5 });
    };
    ratio('PUT 1 KiB × 1,000 (8 parallel)', t.putSmall!, r.putSmall!, 'files/s', 1000);
    ratio('GET 1 KiB × 1,000 (8 parallel)', t.getSmall!, r.getSmall!, 'files/s', 1000);
    ratio('PUT 100 MiB × 1', t.putBig!, r.putBig!, 'MiB/s', 100);
    ratio('GET 100 MiB × 1', t.getBig!, r.getBig!, 'MiB/s', 100);
    ratio('PROPFIND Depth 1, 1,000 entries', t.propfind! / 1000, r.propfind! / 1000, 'listings/s', 1);
    // the same listing at a past version: rewrite every file, then list the old version
    const before = await new Promise<string>((resolve, reject) =>
      http.request(`${tbase}/round0/small/`, { method: 'PROPFIND', agent, headers: { Depth: '0' } }, (res) => {
        res.resume();
        resolve(String(res.headers['x-timefs-version']));
      }).on('error', reject).end(),
    );
    await parallel(1000, (i) => request(`${tbase}/round0/small/f${i}.txt`, 'PUT', randomBytes(1024)));
    const pastT: number[] = [];
    const headT: number[] = [];
    for (let i = 0; i < 15; i++) {
      let s = now();
      await request(`${tbase}/round0/small@${before}/`, 'PROPFIND', undefined, { Depth: '1' });
      pastT.push(now() - s);
      s = now();
      await request(`${tbase}/round0/small/`, 'PROPFIND', undefined, { Depth: '1' });
      headT.push(now() - s);
    }
    const p = stats(pastT).median;
    const h = stats(headT).median;
    rows.push({ bench: 'PROPFIND Depth 1 at a past version ÷ at head (median)', result: `${(p / h).toFixed(2)} (${fmt(p)} vs ${fmt(h)})`, target: '≤ 1.5', ok: p / h <= 1.5 });
    return rows;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('webdav', await benchWebdav());
  process.exit(0);
}
