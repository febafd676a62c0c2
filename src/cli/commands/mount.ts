import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { RequestStats } from '../../fuse/kernel/index.js';
import { isMounted, mountAgent, mountCommitDelayMs, unmountDir, type FuseDriver } from '../../fuse/mount.js';
import { recordMountProcess, waitForMountProcess } from '../../fuse/pidfile.js';
import { createLogger } from '../../util/logger.js';
import { CliContext } from '../context.js';

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
        const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
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
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'unmounting');
        m.unmount()
          .then(() => {
            report();
            logger.info({ dir: m.dir }, 'unmounted; closing the store');
            return ctx.close();
          })
          .then(() => process.exit(0), (err: unknown) => {
            logger.error({ err }, 'unmount failed (busy? close files using it and run timefs umount)');
            process.exit(1);
          });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // unmounted from outside (`timefs umount DIR`, fusermount -u): the kernel has released every
      // file by then, so there is nothing left to serve — exit instead of lingering
      const watch = setInterval(() => {
        if (stopping || isMounted(m.dir)) return;
        stopping = true;
        clearInterval(watch);
        logger.info({ dir: m.dir }, 'unmounted from outside; committing what is pending, then exiting');
        void m
          .settle()
          .then(() => ctx.close())
          .finally(() => process.exit(0));
      }, 500);
    });

  program
    .command('umount')
    .description('unmount a timefs mount; returns once its process has committed what it had answered and exited')
    .argument('<dir>')
    .action(async (dir: string, _opts: unknown, cmd: Command) => {
      unmountDir(dir);
      const waited = await waitForMountProcess(dir, UMOUNT_WAIT_MS);
      if (waited.result === 'timeout') {
        CliContext.of(cmd).print(`unmounted ${dir}, but its mount process (pid ${waited.pid}) is still running after ${UMOUNT_WAIT_MS / 1000} s: changes it had not committed yet may show later (its log says why it is slow)`);
      }
    });
}
