/**
 * Benchmark helpers. The machine is shared and noisy, so every comparison runs its contenders
 * interleaved in alternating rounds within one process and reports ratios of medians.
 */
export interface Stats {
  median: number;
  p99: number;
  mean: number;
  n: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

export const now = (): number => performance.now();

/** Times each call of fn, in ms. */
export async function sample(fn: (i: number) => Promise<unknown> | unknown, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn(i);
    out.push(now() - t);
  }
  return out;
}

/** Runs contenders in alternating rounds; returns each one's per-op samples (ms). */
export async function interleave(
  contenders: Record<string, (i: number) => Promise<unknown> | unknown>,
  rounds: number,
  perRound: number,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(contenders);
    if (r % 2) names.reverse();
    for (const name of names) out[name]!.push(...(await sample((i) => contenders[name]!(r * perRound + i), perRound)));
  }
  return out;
}

export const fmt = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);

export interface Row {
  bench: string;
  result: string;
  target?: string;
  ok?: boolean;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title}\n`);
  console.log('| benchmark | result | target |');
  console.log('|---|---|---|');
  const cell = (text: string): string => text.replaceAll('|', '\\|'); // a pipe in a cell would split it
  for (const r of rows) console.log(`| ${cell(r.bench)} | ${cell(r.result)} | ${r.target ?? ''}${r.ok === undefined ? '' : r.ok ? ' ✅' : ' ❌'} |`);
}
