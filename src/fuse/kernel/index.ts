import type { AgentFs } from '../../fs/agentfs.js';
import { HandleTable } from '../handles.js';
import { FuseChannel } from './channel.js';
import { CacheInvalidator } from './invalidate.js';
import { FuseSession, type CacheSeconds } from './session.js';
import type { RequestStats } from './stats.js';

export { FuseChannel };
export { RequestStats, type OpReport } from './stats.js';

/**
 * Mounts with timefs's own FUSE driver: the kernel protocol spoken directly on /dev/fuse (see
 * channel.ts and session.ts). Resolves once mounted; `closed` resolves when the kernel ends the
 * connection (unmounted from anywhere). Head entries and attributes are cached by the kernel for
 * `cacheSeconds.entries`, "no such name" for `cacheSeconds.negative`; commits made elsewhere drop
 * what they change from its caches (invalidate.ts).
 */
export async function mountKernel(
  fs: AgentFs,
  dir: string,
  options: { cacheSeconds: CacheSeconds; stats?: RequestStats; closedMs: number },
): Promise<{ handles: HandleTable; unmount(onDetached?: () => void): Promise<void>; closed: Promise<void> }> {
  const from = await fs.head(); // before mounting: nothing may fail between mount and start
  const channel = FuseChannel.mount(dir, { fsname: `timefs:${fs.agent}` });
  const invalidator = new CacheInvalidator(channel);
  const own = fs.withOptions({ onCommit: invalidator.own });
  const handles = new HandleTable(own, { closedMs: options.closedMs });
  const session = new FuseSession(own, handles, channel, options.cacheSeconds, options.stats);
  invalidator.start(own, session.nodes, from);
  channel.start((req) => session.handle(req));
  void channel.closed.then(() => invalidator.stop());
  return {
    handles,
    closed: channel.closed,
    // resolves once the kernel ended the connection: after a detach (busy), when the last
    // process using the mount let go; onDetached says that is what it waits for
    unmount: async (onDetached) => {
      if ((await channel.unmount()) === 'detached') onDetached?.();
      await channel.closed;
    },
  };
}
