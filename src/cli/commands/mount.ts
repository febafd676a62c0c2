import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { RequestStats } from '../../fuse/kernel/index.js';
import { isMounted, mountAgent, mountCommitDelayMs, unmountDir, type FuseDriver } from '../../fuse/mount.js';
import { recordMountProcess, waitForMountProcess } from '../../fuse/pidfile.js';
import { createLogger } from '../../util/logger.js';
import { CliContext } from '../context.js';
import { withMallocTunables } from '../tunables.js';

/** How long `timefs umount` waits for the mount process to commit and exit. */
const UMOUNT_WAIT_MS = 60_000;

export function registerMountCommands(program: Command): void {
  program
    .command('mount')
    .description('mount the agent filesystem at DIR (foreground; Ctrl-C or `timefs umount DIR` unmounts). DIR/path@VERSION reads the past')
    .argument('<dir>')
    .option('--daemon', 'run in the background; returns once mounted')
    .addOption(new Option('--driver <driver>', 'kernel: timefs speaks FUSE on /dev/fuse itself (needs root; the default as root); libfuse: fuse-native through fusermount (works without root, slower)').choices(['kernel', 'libfuse']))
    .option('--stats', 'log what the kernel asks for, per request type: count and time to answer (on SIGUSR2, and at unmount; kernel driver)')
    .action(async (dir: string, opts: { daemon?: boolean; driver?: FuseDriver; stats?: boolean }, cmd: Command) => {
      const ctx = CliContext.of(cmd);
      const logger = createLogger('timefs', 'info');
      if (opts.daemon) {
        const args = process.argv.slice(1).filter((a) => a !== '--daemon');
        const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore', env: withMallocTunables(process.env) });
        child.unref();
        for (let i = 0; i < 100 && !isMounted(dir); i++) await new Promise((r) => setTimeout(r, 100));
        if (!isMounted(dir)) throw new Error(`the background mount of ${dir} did not come up (run without --daemon to see why)`);
        ctx.print(`mounted agent ${ctx.options.agent} at ${dir} (pid ${child.pid}); unmount with: timefs umount ${dir}`);
        return;
      }
      ctx.commitDelayMs = mountCommitDelayMs();
      const fs = await ctx.fs();
      await fs.sync(); // the agent and its root directory are written before anything waits on them
      const stats = opts.stats ? new RequestStats() : undefined;
      const m = await mountAgent(fs, dir, { ...(opts.driver ? { driver: opts.driver } : {}), ...(stats ? { stats } : {}) });
      recordMountProcess(m.dir);
      logger.info({ dir: m.dir, agent: fs.agent, driver: m.driver }, `mounted agent ${fs.agent} at ${m.dir} (${m.driver} driver)`);
      const report = (): void => {
        if (stats) logger.info({ requests: stats.take() }, 'FUSE requests since the last report');
      };
      if (stats) process.on('SIGUSR2', report);
      let stopping = false;
      let detached = false;
      const exit = (code: number): void => {
        report();
        void ctx.close().finally(() => process.exit(code));
      };
      const stop = (signal: string): void => {
        if (stopping) {
          if (!detached) return;
          // asked again while detached: stop serving the processes that still use it (their next
          // request fails with ENOTCONN) — what they wrote before is committed first
          logger.warn({ signal }, 'cutting off the processes that still use the detached mount');
          void m.settle().finally(() => exit(0));
          return;
        }
        stopping = true;
        logger.info({ signal }, 'unmounting');
        const onDetached = (): void => {
          detached = true;
          logger.warn({ dir: m.dir }, `${m.dir} is busy (a process has a file or its working directory in it): detached it, and serving those processes until they let go; interrupt again to cut them off`);
        };
        m.unmount(onDetached).then(
          () => {
            logger.info({ dir: m.dir }, 'unmounted; closing the store');
            exit(0);
          },
          (err: unknown) => {
            logger.error({ err }, 'unmount failed: run timefs umount, or fusermount -u');
            void m.settle().finally(() => exit(1));
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // unmounted from outside (`timefs umount DIR`, fusermount -u, even lazily): the kernel ends
      // the connection once nothing uses the mount any more — nothing is left to serve then
      void m.closed.then(() => {
        if (stopping) return;
        stopping = true;
        logger.info({ dir: m.dir }, 'unmounted from outside; committing what is pending, then exiting');
        void m.settle().finally(() => exit(0));
      });
    });

  program
    .command('umount')
    .description('unmount a timefs mount; returns once its process has committed what it had answered and exited')
    .argument('<dir>')
    .option('-f, --force', 'detach a busy mount: the processes using it are served until they let go')
    .action(async (dir: string, opts: { force?: boolean }, cmd: Command) => {
      if (unmountDir(dir, { force: opts.force === true }) === 'detached') {
        CliContext.of(cmd).print(`detached ${dir}: its mount process serves the processes still using it, commits what they write, and exits when they let go`);
        return;
      }
      const waited = await waitForMountProcess(dir, UMOUNT_WAIT_MS);
      if (waited.result === 'timeout') {
        CliContext.of(cmd).print(`unmounted ${dir}, but its mount process (pid ${waited.pid}) is still running after ${UMOUNT_WAIT_MS / 1000} s: changes it had not committed yet may show later (its log says why it is slow)`);
      }
    });
}
