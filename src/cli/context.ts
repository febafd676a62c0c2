import type { Command } from 'commander';
import type { Logger } from 'pino';
import { AgentFs } from '../fs/agentfs.js';
import { parseEngineKind } from '../kv/open.js';
import { openStore, type Store } from '../store/index.js';
import { createLogger } from '../util/logger.js';

export interface GlobalOptions {
  data?: string;
  agent: string;
  engine: string;
  blobs?: string;
  s3Endpoint?: string;
  json?: boolean;
}

/** What every command gets: the store, the agent's filesystem, a logger; closed after the command. */
export class CliContext {
  private store: Store | undefined;
  /** The embedded engine's deferred commit for this command's store (see OpenStoreConfig); set before the store opens. */
  commitDelayMs = 0;
  readonly logger: Logger = createLogger('timefs', 'warn');

  constructor(readonly options: GlobalOptions) {}

  static of(cmd: Command): CliContext {
    return new CliContext(cmd.optsWithGlobals<GlobalOptions>());
  }

  async openStore(): Promise<Store> {
    if (!this.store) {
      this.store = await openStore({
        ...(this.options.data ? { dataDir: this.options.data } : {}),
        engine: parseEngineKind(this.options.engine),
        ...(this.options.blobs ? { blobs: this.options.blobs } : {}),
        ...(this.options.s3Endpoint ? { s3Endpoint: this.options.s3Endpoint, s3ForcePathStyle: true } : {}),
        ...(this.commitDelayMs > 0 ? { commitDelayMs: this.commitDelayMs } : {}),
      });
    }
    return this.store;
  }

  /** The agent's filesystem. The agent 'default' is created on first use; others must exist. */
  async fs(): Promise<AgentFs> {
    const store = await this.openStore();
    return AgentFs.open(store, this.options.agent, { create: this.options.agent === 'default', actor: 'cli' });
  }

  print(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  async close(): Promise<void> {
    await this.store?.close();
  }
}

/** Wraps a command action: opens the context, runs, always closes. */
export function action<A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const ctx = CliContext.of(cmd);
    try {
      await fn(ctx, ...args);
    } finally {
      await ctx.close();
    }
  };
}
