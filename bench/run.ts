/**
 * `npm run bench`: every benchmark, printed as Markdown tables of ratios measured side by side in
 * one run. Pick some with `npm run bench -- store fs`.
 */
import { printTable, type Row } from './harness.js';
import { benchAgents } from './agents.js';
import { benchFs } from './fs.js';
import { benchFuse } from './fuse.js';
import { benchKvLayout } from './kv-layout.js';
import { benchMountCommits } from './mount-commits.js';
import { benchSql } from './sql.js';
import { benchStore } from './store.js';
import { benchWebdav } from './webdav.js';

const suites: Record<string, () => Promise<Row[]>> = {
  'kv-layout': benchKvLayout,
  store: benchStore,
  fs: benchFs,
  webdav: benchWebdav,
  'mount-commits': benchMountCommits,
  fuse: benchFuse,
  agents: benchAgents,
  sql: benchSql,
};

const wanted = process.argv.slice(2);
console.log(`# timefs benchmarks — ${new Date().toISOString()}, node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  printTable(name, await run());
}
