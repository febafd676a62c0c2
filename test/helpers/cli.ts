import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const cliBuilt = (): boolean => fs.existsSync(CLI);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `timefs` CLI like a user would. */
export function timefs(dataDir: string, args: string[], input?: string | Buffer): CliResult {
  const r = spawnSync(process.execPath, [CLI, '--data', dataDir, ...args], {
    input,
    env: { ...process.env, TIMEFS_LOG_LEVEL: 'warn' },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
