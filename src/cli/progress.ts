import cliProgress from 'cli-progress';
import type { Logger } from 'pino';

export interface Progress {
  /** Sets the total once it is known (or grows it). */
  total(n: number): void;
  tick(n?: number, detail?: string): void;
  stop(): void;
}

/**
 * A progress bar on a terminal (cli-progress); elsewhere (CI, pipes) a structured log line every
 * two seconds, so long jobs never look hung.
 */
export function progress(label: string, unit: string, logger: Logger): Progress {
  let done = 0;
  let total = 0;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {detail}`, hideCursor: true, stream: process.stderr, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(0, 0, { detail: '' });
    return {
      total: (n) => {
        total = n;
        bar.setTotal(n);
      },
      tick: (n = 1, detail = '') => {
        done += n;
        bar.update(done, { detail: detail.length > 40 ? `…${detail.slice(-39)}` : detail });
      },
      stop: () => bar.stop(),
    };
  }
  let last = Date.now();
  return {
    total: (n) => (total = n),
    tick: (n = 1) => {
      done += n;
      if (Date.now() - last > 2000) {
        last = Date.now();
        logger.info({ job: label, done, total, unit }, `${label}: ${done}/${total || '?'} ${unit}`);
      }
    },
    stop: () => logger.info({ job: label, done, total, unit }, `${label}: done, ${done} ${unit}`),
  };
}
