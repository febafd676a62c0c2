import type { AgentFs } from '../../fs/agentfs.js';
import type { HandleTable } from '../handles.js';
import { FuseChannel } from './channel.js';
import { FuseSession } from './session.js';
import type { RequestStats } from './stats.js';

export { FuseChannel };
export { RequestStats, type OpReport } from './stats.js';

/**
 * Mounts with timefs's own FUSE driver: the kernel protocol spoken directly on /dev/fuse (see
 * channel.ts and session.ts). Resolves once mounted; `closed` resolves when the kernel ends the
 * connection (unmounted from anywhere).
 */
export function mountKernel(fs: AgentFs, dir: string, handles: HandleTable, cacheSeconds: number, stats?: RequestStats): { unmount(): Promise<void>; closed: Promise<void> } {
  const channel = FuseChannel.mount(dir, { fsname: `timefs:${fs.agent}` });
  const session = new FuseSession(fs, handles, channel, cacheSeconds, stats);
  channel.start((req) => session.handle(req));
  return {
    closed: channel.closed,
    unmount: async () => {
      await channel.unmount();
      await channel.closed;
    },
  };
}
