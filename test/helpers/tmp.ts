import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];

/**
 * Registered once, when a test file first imports this helper, so it also removes directories
 * made inside hooks and tests (an afterAll registered there is never run — the fsx test left
 * 2.6 GB behind per run that way). Hooks run in reverse order, so this runs after the file's own
 * afterAll hooks (which unmount what they mounted).
 */
afterAll(() => {
  for (const dir of created.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      console.warn(`could not remove ${dir}: ${(err as Error).message}`);
    }
  }
});

/** A fresh temporary directory removed when the test file finishes. */
export function tempDir(label = 'timefs'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  created.push(dir);
  return dir;
}
