import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/auth.js';
import { hasCommand, run } from '../helpers/exec.js';
import { mounted } from '../helpers/mount.js';
import { requirement } from '../helpers/require.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const SUITES = fileURLToPath(new URL('../../../shared/suites/', import.meta.url));
const litmus = requirement(hasCommand('litmus') && fs.existsSync(path.join(SUITES, 'run-litmus.sh')), 'litmus (apt: litmus) and ../shared/suites/run-litmus.sh');
const cadaver = requirement(hasCommand('cadaver'), 'cadaver (apt: cadaver)');
const rclone = requirement(hasCommand('rclone'), 'rclone (apt: rclone)');
const fuse = requirement(hasCommand('fusermount') && fs.existsSync('/dev/fuse'), 'FUSE (/dev/fuse and fusermount, apt: fuse)');

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});

const dav = (agent: string, p = ''): string => `${srv.url}/dav/${agent}/${p}`;

describe('WebDAV compliance', () => {
  it.runIf(litmus.run)('passes every litmus suite (basic, copymove, props, locks, http) with no skips', async () => {
    await srv.agent('litmus');
    const r = await run('bash', [path.join(SUITES, 'run-litmus.sh'), dav('litmus')], { env: { SUITES_DIR: tempDir('suites') }, timeoutMs: 300_000 });
    const last = r.out.trim().split('\n').pop();
    expect(last, r.err.slice(-3000)).toMatch(/^litmus: \d+ passed, 0 failed, 0 skipped$/);
    expect(Number(/(\d+) passed/.exec(last!)![1])).toBeGreaterThanOrEqual(104);
    expect(r.err).not.toMatch(/WARNING/);
  });
  if (!litmus.run) it.skip(litmus.reason, () => {});
});

describe('time travel over WebDAV', () => {
  it('GETs and PROPFINDs the past, refuses writes to it, and restores with COPY', async () => {
    const fsys = await srv.agent('tt');
    expect((await fetch(dav('tt', 'artifacts/'), { method: 'MKCOL' })).status).toBe(201);
    const put = await fetch(dav('tt', 'artifacts/doc.md'), { method: 'PUT', body: 'first draft' });
    expect(put.status).toBe(201);
    const v1 = (await fetch(dav('tt', 'artifacts/doc.md'), { method: 'HEAD' })).headers.get('x-timefs-version')!;
    expect(v1).toMatch(/^[0-9a-f]{16}ffff$/);
    const t1 = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    expect([200, 204]).toContain((await fetch(dav('tt', 'artifacts/doc.md'), { method: 'PUT', body: 'second draft' })).status);
    expect((await fetch(dav('tt', 'artifacts/doc.md'), { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(dav('tt', 'artifacts/doc.md'))).status).toBe(404);
    const past = await fetch(dav('tt', `artifacts/doc.md@${v1}`));
    expect(past.status).toBe(200);
    expect(await past.text()).toBe('first draft');
    expect(past.headers.get('x-timefs-version')).toBe(v1);
    const listing = await fetch(dav('tt', `artifacts@${t1}/`), { method: 'PROPFIND', headers: { Depth: '1' } });
    expect(listing.status).toBe(207);
    const xml = await listing.text();
    expect(xml).toContain(`<D:href>/dav/tt/artifacts@${encodeURIComponent(t1).replace(/%3A/gi, ':')}/doc.md</D:href>`);
    // every write method under a versioned path: 403 with a body that says what to do
    const writes: Array<[string, RequestInit]> = [
      [`artifacts/doc.md@${v1}`, { method: 'PUT', body: 'x' }],
      [`artifacts/doc.md@${v1}`, { method: 'DELETE' }],
      [`artifacts@${v1}/new`, { method: 'MKCOL' }],
      [`artifacts/doc.md@${v1}`, { method: 'PROPPATCH', body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>' }],
      [`artifacts/doc.md@${v1}`, { method: 'MOVE', headers: { Destination: dav('tt', 'moved.md') } }],
      ['artifacts/', { method: 'COPY', headers: { Destination: dav('tt', `artifacts@${v1}/x`) } }],
      [`artifacts/doc.md@${v1}`, { method: 'LOCK', body: '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>' }],
    ];
    const head = await fsys.head();
    for (const [p, init] of writes) {
      const r = await fetch(dav('tt', p), init);
      expect(r.status, `${init.method} ${p}`).toBe(403);
      expect(await r.text()).toMatch(/is a past version and read-only/);
    }
    expect(await fsys.head()).toBe(head);
    // the restore: COPY from the versioned URL to the plain one
    const copy = await fetch(dav('tt', `artifacts/doc.md@${v1}`), { method: 'COPY', headers: { Destination: dav('tt', 'artifacts/doc.md') } });
    expect(copy.status).toBe(201);
    expect(await (await fetch(dav('tt', 'artifacts/doc.md'))).text()).toBe('first draft');
    // one commit per changing request, attributed to webdav, named by method and path
    const log = await fsys.log({ limit: 5 });
    expect(log.map((l) => [l.actor, l.summary])).toEqual([
      ['webdav', `COPY /artifacts/doc.md@${v1} -> /artifacts/doc.md`],
      ['webdav', 'DELETE /artifacts/doc.md'],
      ['webdav', 'PUT /artifacts/doc.md (12 bytes)'],
      ['webdav', 'PUT /artifacts/doc.md (11 bytes)'],
      ['webdav', 'MKCOL /artifacts'],
    ]);
  });

  it('streams a large PUT without holding it in memory, and GETs ranges', async () => {
    await srv.agent('big');
    // larger than the store's chunk cache (64 MiB) plus buffers, so holding the body would show
    const size = 160 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const before = process.memoryUsage().rss;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const r = await fetch(dav('big', 'blob.bin'), { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(201);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
    const range = await fetch(dav('big', 'blob.bin'), { headers: { Range: `bytes=${5 * 1024 * 1024 + 7}-${5 * 1024 * 1024 + 16}` } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(chunk.subarray(7, 17))).toBe(true);
    const st = await (await srv.agent('big')).stat('/blob.bin');
    expect(st.size).toBe(size);
  });

  it('answers conditional requests from ETags', async () => {
    await srv.agent('cond');
    await fetch(dav('cond', 'f.txt'), { method: 'PUT', body: 'v1' });
    const g = await fetch(dav('cond', 'f.txt'));
    const etag = g.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f-]+"$/);
    expect(g.headers.get('last-modified')).toBeTruthy();
    expect((await fetch(dav('cond', 'f.txt'), { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await fetch(dav('cond', 'f.txt'), { method: 'PUT', body: 'v2', headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expect([200, 204]).toContain((await fetch(dav('cond', 'f.txt'), { method: 'PUT', body: 'v2', headers: { 'If-Match': etag } })).status);
    expect((await fetch(dav('cond', 'f.txt'), { method: 'PUT', body: 'v3', headers: { 'If-Match': etag } })).status).toBe(412);
    expect((await fetch(dav('cond', 'new.txt'), { method: 'PUT', body: 'n', headers: { 'If-None-Match': '*' } })).status).toBe(201);
    expect((await fetch(dav('cond', 'new.txt'), { method: 'PUT', body: 'n', headers: { 'If-None-Match': '*' } })).status).toBe(412);
    expect(await (await fetch(dav('cond', 'f.txt'))).text()).toBe('v2');
  });
});

describe('authentication', () => {
  it('requires a per-agent token; one agent\'s token never opens another', async () => {
    const authed = await startServer({ auth: true });
    const alice = await authed.agent('alice');
    const bob = await authed.agent('bob');
    await bob.writeFile('/secret.txt', 'bob only');
    const token = await createToken(alice);
    const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
    const u = (agent: string, p: string) => `${authed.url}/dav/${agent}/${p}`;
    const none = await fetch(u('alice', ''), { method: 'PROPFIND', headers: { Depth: '0' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(u('alice', 'a.txt'), { method: 'PUT', body: 'hi', headers: basic('alice', token) })).status).toBe(201);
    expect((await fetch(u('alice', 'a.txt'), { headers: basic('alice', `${token}x`) })).status).toBe(401);
    expect((await fetch(u('bob', 'secret.txt'), { headers: basic('alice', token) })).status).toBe(401);
    expect((await fetch(u('bob', 'secret.txt'), { headers: basic('bob', token) })).status).toBe(401);
    expect((await fetch(u('ghost', ''), { headers: basic('ghost', token) })).status).toBe(401);
    expect(await (await fetch(u('alice', 'a.txt'), { headers: basic('alice', token) })).text()).toBe('hi');
  });
});

describe('hostile input', () => {
  it('answers 4xx, keeps serving, and changes nothing', async () => {
    const fsys = await srv.agent('fuzz');
    await fsys.writeFile('/keep.txt', 'keep');
    const head = await fsys.head();
    const cases: Array<[string, RequestInit, number]> = [
      ['', { method: 'PROPFIND', body: '<D:propfind xmlns:D="DAV:"><D:prop>', headers: { Depth: '1' } }, 400],
      ['', { method: 'PROPFIND', body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><D:propfind xmlns:D="DAV:"><D:prop>&b;</D:prop></D:propfind>', headers: { Depth: '1' } }, 400],
      ['', { method: 'PROPFIND', body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:">&e;</D:propfind>' }, 400],
      ['', { method: 'PROPFIND', body: `<D:propfind xmlns:D="DAV:"><D:prop>${'<x/>'.repeat(400_000)}</D:prop></D:propfind>`, headers: { Depth: '0' } }, 413],
      ['', { method: 'PROPFIND', headers: { Depth: 'infinity' } }, 403],
      ['keep.txt', { method: 'PROPPATCH', body: 'not xml at all' }, 400],
      ['keep.txt', { method: 'LOCK', body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:bogus/></D:lockscope></D:lockinfo>' }, 400],
      ['x', { method: 'MKCOL', body: 'body' }, 415],
      ['a%2fb', {}, 400],
      ['a%00b', {}, 400],
      ['%E0%A4%A', {}, 400],
      ['keep.txt@zzzzzzzzzzzzzzzzzzzz', {}, 404],
      ['keep.txt@00000000000000000000/a@00000000000000000000', {}, 400],
      ['keep.txt@7fffffffffffffffffff', {}, 404],
      // 10 KB of path is legal (whole paths may reach 32 KiB: they come from a mount's root), just absent
      [`${'deep/'.repeat(2000)}x`, {}, 404],
      // a name over 255 bytes is not
      [`${'n'.repeat(300)}.txt`, {}, 400],
    ];
    for (const [p, init, status] of cases) {
      const r = await fetch(dav('fuzz', p), init).catch((e: Error) => ({ status: `fetch failed: ${e.message}` }));
      expect(r.status, `${init.method ?? 'GET'} /${p.slice(0, 60)}`).toBe(status);
    }
    // raw paths that fetch would normalize away: dot segments, encoded or not
    for (const raw of ['/dav/fuzz/../../etc/passwd', '/dav/fuzz/%2e%2e/%2e%2e/etc/passwd', '/dav/fuzz/a/./b', '/dav/fuzz/..%2fkeep.txt']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: srv.port, path: raw, method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, raw).toBe(400);
    }
    // a declared 1 PB upload is refused before any body is read
    const huge = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: srv.port, path: '/dav/fuzz/keep.txt', method: 'PUT', headers: { 'content-length': String(1e15) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', () => {});
      req.flushHeaders();
      setTimeout(() => reject(new Error('no answer to an oversized PUT')), 5000);
    });
    expect(huge).toBe(413);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    expect(await fsys.head()).toBe(head);
    expect((await fsys.readFile('/keep.txt')).toString()).toBe('keep');
  });
});

describe('real WebDAV clients', () => {
  it.runIf(cadaver.run)('cadaver: a scripted session', async () => {
    const fsys = await srv.agent('cad');
    const local = path.join(tempDir('cad'), 'up.txt');
    fs.writeFileSync(local, 'uploaded by cadaver\n');
    const got = `${local}.back`;
    const script = ['mkcol docs', `put ${local} docs/up.txt`, 'ls docs', `get docs/up.txt ${got}`, 'copy docs/up.txt docs/copy.txt', 'move docs/copy.txt docs/moved.txt', 'delete docs/up.txt', 'ls docs', 'quit', ''].join('\n');
    const r = await run('cadaver', [dav('cad')], { input: script, timeoutMs: 60_000 });
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/failed/i);
    expect(fs.readFileSync(got, 'utf8')).toBe('uploaded by cadaver\n');
    expect((await fsys.readdir('/docs')).entries.map((e) => e.name)).toEqual(['moved.txt']);
    // and the past through cadaver: the deleted file at the version before the delete
    const v = (await fsys.history('/docs/up.txt')).entries[1]!.version;
    const r2 = await run('cadaver', [dav('cad')], { input: `cat docs/up.txt@${v}\nquit\n` });
    expect(r2.out).toContain('uploaded by cadaver');
  });
  if (!cadaver.run) it.skip(cadaver.reason, () => {});

  it.runIf(rclone.run)('rclone: copy and sync both ways, and copy from a version', async () => {
    const fsys = await srv.agent('rc');
    const src = tempDir('rc-src');
    fs.mkdirSync(path.join(src, 'sub'));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(src, `f${i}.txt`), `file ${i}\n`);
    const big = randomBytes(3 * 1024 * 1024 + 11);
    fs.writeFileSync(path.join(src, 'sub', 'big.bin'), big);
    const env = { RCLONE_CONFIG_TFS_TYPE: 'webdav', RCLONE_CONFIG_TFS_URL: dav('rc'), RCLONE_CONFIG_TFS_VENDOR: 'other', RCLONE_CONFIG: '/dev/null' };
    expect((await run('rclone', ['copy', src, 'tfs:proj'], { env })).code).toBe(0);
    expect((await fsys.readFile('/proj/sub/big.bin')).equals(big)).toBe(true);
    const before = await fsys.head();
    fs.rmSync(path.join(src, 'f1.txt'));
    fs.writeFileSync(path.join(src, 'f2.txt'), 'changed\n');
    expect((await run('rclone', ['sync', src, 'tfs:proj'], { env })).code).toBe(0);
    expect((await fsys.readdir('/proj')).entries.map((e) => e.name)).toEqual(['f0.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'sub']);
    const out = tempDir('rc-out');
    expect((await run('rclone', ['copy', `tfs:proj@${before}`, out], { env })).code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'f1.txt'), 'utf8')).toBe('file 1\n');
    expect(fs.readFileSync(path.join(out, 'f2.txt'), 'utf8')).toBe('file 2\n');
    expect(fs.readFileSync(path.join(out, 'sub', 'big.bin')).equals(big)).toBe(true);
    const back = tempDir('rc-back');
    expect((await run('rclone', ['sync', 'tfs:proj', back], { env })).code).toBe(0);
    expect(fs.readFileSync(path.join(back, 'f2.txt'), 'utf8')).toBe('changed\n');
  });
  if (!rclone.run) it.skip(rclone.reason, () => {});

  it.runIf(rclone.run && fuse.run)('rclone mount: a kernel mount of the WebDAV share, round trip', async () => {
    const fsys = await srv.agent('rcm');
    await fsys.writeFile('/hello.txt', 'hello from timefs\n');
    const mnt = tempDir('rcm');
    const env = { RCLONE_CONFIG_TFS_TYPE: 'webdav', RCLONE_CONFIG_TFS_URL: dav('rcm'), RCLONE_CONFIG_TFS_VENDOR: 'other', RCLONE_CONFIG: '/dev/null' };
    const { spawn } = await import('node:child_process');
    const proc = spawn('rclone', ['mount', 'tfs:', mnt, '--vfs-cache-mode', 'writes', '--vfs-write-back', '0s', '--dir-cache-time', '1s'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      // async fs only: the server runs in this process, a sync call on the mount would deadlock it
      const fsp = fs.promises;
      const exists = (p: string) => fsp.access(p).then(() => true, () => false);
      for (let i = 0; i < 100 && !(await exists(path.join(mnt, 'hello.txt'))); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await fsp.readFile(path.join(mnt, 'hello.txt'), 'utf8')).toBe('hello from timefs\n');
      await fsp.mkdir(path.join(mnt, 'made'));
      await fsp.writeFile(path.join(mnt, 'made', 'by-mount.txt'), 'written through the kernel\n');
      for (let i = 0; i < 100 && !(await fsys.exists('/made/by-mount.txt')); i++) await new Promise((r) => setTimeout(r, 100));
      expect((await fsys.readFile('/made/by-mount.txt')).toString()).toBe('written through the kernel\n');
    } finally {
      // rclone unmounts itself on SIGTERM; a lazy unmount covers a busy or crashed mount
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (mounted(mnt)) await run('fusermount', ['-uz', mnt]);
    }
  });
  if (!(rclone.run && fuse.run)) it.skip(`${rclone.reason}; ${fuse.reason}`, () => {});
});
