import { Worker } from 'node:worker_threads';
import { fsError } from '../fs/errors.js';

/**
 * Regular expressions from models run off the event loop: a pattern with catastrophic
 * backtracking ("(a+)+$") would otherwise stall every agent of the process. One worker thread
 * does the matching; a batch that runs past the time limit terminates it (a fresh one starts on
 * the next call) and the Grep fails with a message the model can act on.
 */
const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, pattern, flags, files, maxLine }) => {
  try {
    const re = new RegExp(pattern, flags);
    const hits = [];
    for (const [path, text] of files) {
      const lines = text.split('\\n');
      for (let i = 0; i < lines.length; i++) if (re.test(lines[i])) hits.push([path, i + 1, lines[i].length > maxLine ? lines[i].slice(0, maxLine) + '…' : lines[i]]);
    }
    parentPort.postMessage({ id, hits });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

export type Hit = [path: string, line: number, text: string];

let worker: Worker | null = null;
let seq = 0;
const waiting = new Map<number, { resolve: (h: Hit[]) => void; reject: (e: Error) => void }>();

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER, { eval: true });
  w.unref();
  w.on('message', (m: { id: number; hits?: Hit[]; error?: string }) => {
    const p = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) p?.reject(fsError('EINVAL', `invalid regular expression: ${m.error}`));
    else p?.resolve(m.hits ?? []);
  });
  w.on('error', (err) => {
    for (const p of waiting.values()) p.reject(err);
    waiting.clear();
    worker = null;
  });
  worker = w;
  return w;
}

/** Matches a pattern against files' text, line by line, in the worker, within `timeoutMs`. */
export function grepLines(pattern: string, flags: string, files: Array<[string, string]>, timeoutMs = 5000, maxLine = 500): Promise<Hit[]> {
  const w = getWorker();
  const id = ++seq;
  return new Promise<Hit[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      if (worker === w) worker = null;
      void w.terminate();
      reject(fsError('EINVAL', `the pattern ${JSON.stringify(pattern)} took longer than ${timeoutMs / 1000} s (catastrophic backtracking?): simplify it, e.g. avoid nested quantifiers like (a+)+`));
    }, timeoutMs);
    waiting.set(id, {
      resolve: (h) => {
        clearTimeout(timer);
        resolve(h);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    w.postMessage({ id, pattern, flags, files, maxLine });
  });
}
