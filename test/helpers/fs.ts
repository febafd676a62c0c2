import { AgentFs } from '../../src/fs/agentfs.js';
import { makeStore, type TestClock } from './store.js';

export async function makeFs(options: { clock?: TestClock; engine?: 'sqlite' | 'memory'; agent?: string } = {}): Promise<AgentFs> {
  const store = makeStore({ ...(options.clock ? { clock: options.clock } : {}), ...(options.engine ? { engine: options.engine } : {}) });
  return AgentFs.open(store, options.agent ?? 'test', { create: true, actor: 'test' });
}

/** The errno code of a rejected promise ('no error' when it resolved). */
export async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code ?? `untyped: ${String(err)}`;
  }
}
