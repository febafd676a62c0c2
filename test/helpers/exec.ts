import { spawn, spawnSync } from 'node:child_process';

export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/**
 * Runs a command without blocking the event loop — tests serve timefs in-process, so a synchronous
 * spawn would deadlock the client against the server.
 */
export function run(
  cmd: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    // a child that exits without reading its input (a failing command, on purpose) closes the
    // pipe first: EPIPE here is not the test's failure, the exit code says what happened
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
