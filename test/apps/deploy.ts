import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runTool } from '../../src/agent/run.js';
import type { AgentFs } from '../../src/fs/agentfs.js';

export const HABITS_DIR = fileURLToPath(new URL('../../examples/habits/', import.meta.url));

/** Deploys the example habit tracker the way an agent would: Write each file, Sql the schema, DeployApp. */
export async function deployHabits(fsys: AgentFs): Promise<string> {
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const file of walk(HABITS_DIR)) {
    const rel = path.relative(HABITS_DIR, file);
    if (rel === 'schema.sql') continue;
    const r = await runTool(fsys, 'Write', { path: `/apps/habits/${rel}`, content: fs.readFileSync(file, 'utf8') });
    expect(r.isError, r.text).toBe(false);
  }
  const schema = await runTool(fsys, 'Sql', { db: 'habits', sql: fs.readFileSync(path.join(HABITS_DIR, 'schema.sql'), 'utf8') });
  expect(schema.isError, schema.text).toBe(false);
  const deployed = await runTool(fsys, 'DeployApp', { name: 'habits' });
  expect(deployed.isError, deployed.text).toBe(false);
  return deployed.text;
}
