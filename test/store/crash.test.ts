import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { BlobRef } from '../../src/store/values.js';
import { readVersionOf, type Version } from '../../src/store/version.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const writer = fileURLToPath(new URL('../fixtures/crash-writer.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../dist/store/open.js', import.meta.url));
const needsBuild = requirement(fs.existsSync(built), 'the build (dist/; `npm test` builds it first)');

interface Ack {
  version: Version;
  key: string;
  value: string;
  blob: string;
}

/** Runs the writer until it has acknowledged a few commits, then SIGKILLs it at a random moment. */
function runAndKill(dataDir: string, tag: string): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dataDir, tag], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    const killAfter = 20 + Math.floor(Math.random() * 150);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!killed && out.includes('ACK ')) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), killAfter);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (code ${code}): ${err}`));
      // only complete lines were acknowledged
      const lines = out.split('\n').slice(0, -1);
      resolve(
        lines.filter((l) => l.startsWith('ACK ')).map((l) => {
          const [, version, key, value, blob] = l.split(' ');
          return { version: version as Version, key: key!, value: value!, blob: blob! };
        }),
      );
    });
  });
}

describe('crash safety', () => {
  it.runIf(needsBuild.run)('keeps every acknowledged version through 50 SIGKILLs', async () => {
    const dataDir = tempDir('crash');
    const acked: Ack[] = [];
    for (let round = 0; round < 50; round++) {
      const acks = await runAndKill(dataDir, `r${round}`);
      expect(acks.length, `round ${round} acknowledged nothing`).toBeGreaterThan(0);
      acked.push(...acks);
      // the store opens cleanly after every crash, and the newest acknowledged commit is there
      const store = await openStore({ dataDir });
      const ns = await store.namespace('crash');
      const last = acks[acks.length - 1]!;
      expect((await ns.head()) >= last.version).toBe(true);
      expect((await (await ns.snapshot(readVersionOf(last.version))).get(['k', last.key]))?.toString()).toBe(last.value);
      await store.close();
    }
    // every acknowledged version reads back exactly, blobs included
    const store = await openStore({ dataDir });
    const ns = await store.namespace('crash');
    for (const ack of acked) {
      const snap = await ns.snapshot(readVersionOf(ack.version));
      expect((await snap.get(['k', ack.key]))?.toString(), `value at ${ack.version}`).toBe(ack.value);
      if (ack.blob !== '-') {
        const ref = await snap.get(['b', ack.key]);
        expect(ref).toBeInstanceOf(BlobRef);
        expect((ref as BlobRef).hash).toBe(ack.blob);
        expect((await store.getBlob(ref as BlobRef)).toString()).toContain(`blob ${ack.value} `);
      }
    }
    const versions = acked.map((a) => a.version);
    expect([...versions].sort()).toEqual(versions); // acknowledged versions only ever increase
    expect(acked.length).toBeGreaterThan(100);
    await store.close();
  }, 240_000);
  if (!needsBuild.run) it.skip(needsBuild.reason, () => {});
});
