#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=134217728:${GLIBC_TUNABLES} node
import { TIMEFS_VERSION } from '../version.js';
import { Command, CommanderError, Option } from 'commander';
import { FsError } from '../fs/errors.js';
import { StoreError } from '../store/errors.js';
import { UserError } from '../util/errors.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerAgentCommands } from './commands/agent.js';
import { registerAppCommands } from './commands/apps.js';
import { registerFileCommands } from './commands/files.js';
import { registerMountCommands } from './commands/mount.js';
import { registerServeCommands } from './commands/serve.js';
import { registerTimeCommands } from './commands/time.js';
import { registerTransferCommands } from './commands/transfer.js';

/** Errors a user can act on print as one line; anything else is a bug and says how to get a trace. */
function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof FsError || err instanceof StoreError || err instanceof UserError) {
    process.stderr.write(`timefs: ${err.message}\n`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall) {
    process.stderr.write(`timefs: ${e.message}\n`); // local file errors (ENOENT on a local path…)
    return 1;
  }
  if (err instanceof Error && err.name === 'Error' && !process.env.TIMEFS_DEBUG) {
    process.stderr.write(`timefs: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`timefs: internal error: ${err instanceof Error ? (process.env.TIMEFS_DEBUG ? err.stack : err.message) : String(err)}\n`);
  if (!process.env.TIMEFS_DEBUG) process.stderr.write('timefs: this is a bug; run again with TIMEFS_DEBUG=1 for a stack trace\n');
  return 70;
}

export function buildProgram(): Command {
  const program = new Command('timefs')
    .description('a versioned filesystem for AI agents: every state it was ever in, one @version away')
    .option('--data <dir>', 'data directory (default: $TIMEFS_DATA or ./.timefs)')
    .option('-a, --agent <name>', 'which agent\'s filesystem', 'default')
    .addOption(new Option('--engine <engine>', 'kv engine').choices(['sqlite', 'fdb', 'memory']).default(process.env.TIMEFS_ENGINE ?? 'sqlite'))
    .option('--blobs <where>', "chunk store: 'dir' (default, DATA/blobs), 'dir:/path' or 's3://bucket/prefix'", process.env.TIMEFS_BLOBS)
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (path-style), e.g. http://127.0.0.1:9000', process.env.TIMEFS_S3_ENDPOINT)
    .option('--json', 'machine-readable output where supported')
    .addHelpText('after', `\ntimefs ${TIMEFS_VERSION} (timefs --version)`)
    .showHelpAfterError('(run timefs --help for usage)')
    .exitOverride();
  registerFileCommands(program);
  registerTimeCommands(program);
  registerTransferCommands(program);
  registerAdminCommands(program);
  registerServeCommands(program);
  registerMountCommands(program);
  registerAgentCommands(program);
  registerAppCommands(program);
  return program;
}

async function main(): Promise<void> {
  // A reader that stops early (`timefs log | head`) closes our stdout. Unix tools die of SIGPIPE
  // there; Node ignores that signal and raised an unhandled EPIPE with a stack trace instead.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`timefs: writing the output failed: ${err.message}\n`);
    process.exit(74); // EX_IOERR
  });
  // `timefs --version` prints the version; handled here, not with commander's .version(), because
  // that would also swallow the subcommands' own --version <v> (sql, agent transcript)
  const withValue = new Set(['--data', '-a', '--agent', '--engine', '--blobs', '--s3-endpoint']);
  for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i]!;
    if (arg === '--version' || arg === '-V') {
      process.stdout.write(`${TIMEFS_VERSION}\n`);
      return;
    }
    if (!arg.startsWith('-')) break; // the subcommand: its options are its own
    if (withValue.has(arg)) i++;
  }
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    process.exitCode = report(err);
  }
}

await main();
