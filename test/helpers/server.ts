import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll } from 'vitest';
import { AgentFs } from '../../src/fs/agentfs.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { buildServer } from '../../src/server/app.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/util/logger.js';
import { tempDir } from './tmp.js';

export interface TestServer {
  url: string;
  port: number;
  store: Store;
  dataDir: string;
  agent(name: string): Promise<AgentFs>;
}

/** timefs serve in-process, on a free loopback port it checks is its own. */
export async function startServer(options: { auth?: boolean } = {}): Promise<TestServer> {
  const dataDir = tempDir('serve');
  const store = new Store({ kv: new SqliteEngine({ file: path.join(dataDir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dataDir, 'blobs'), { fsync: false }) });
  const app = await buildServer({ store, logger: createLogger('test', process.env.TIMEFS_LOG_LEVEL ?? 'warn'), auth: options.auth ?? false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as AddressInfo;
  if (addr.address !== '127.0.0.1' || !addr.port) throw new Error(`server did not bind loopback: ${JSON.stringify(addr)}`);
  const health = await fetch(`http://127.0.0.1:${addr.port}/healthz`).then((r) => r.json());
  if (!(health as { ok?: boolean }).ok) throw new Error('the port answered, but not as our server');
  afterAll(async () => {
    await app.close();
    await store.close();
  });
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    store,
    dataDir,
    agent: (name) => AgentFs.open(store, name, { create: true, actor: 'test' }),
  };
}
