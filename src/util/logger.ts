import { pino, type Logger } from 'pino';

/**
 * Structured logs (JSON lines) on stderr. Level from TIMEFS_LOG_LEVEL; the CLI defaults to 'warn'
 * so command output stays clean, servers to 'info'.
 */
export function createLogger(name: string, defaultLevel = 'info'): Logger {
  return pino({ name, level: process.env.TIMEFS_LOG_LEVEL ?? defaultLevel }, pino.destination({ dest: 2, sync: true }));
}
