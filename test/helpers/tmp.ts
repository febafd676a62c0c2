import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** A fresh temporary directory removed when the test file finishes. */
export function tempDir(label = 'timefs'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
