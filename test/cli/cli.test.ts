import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, cliBuilt, timefs } from '../helpers/cli.js';
import { requirement } from '../helpers/require.js';
import { tempDir } from '../helpers/tmp.js';

const built = requirement(cliBuilt(), 'the built CLI (dist/; `npm test` builds it first)');
const HEX_READ = /[0-9a-f]{16}ffff/;

describe.runIf(built.run)('timefs CLI', () => {
  it('writes, deletes and restores a file from the past', () => {
    const data = tempDir('cli');
    const ok = (args: string[], input?: string) => {
      const r = timefs(data, args, input);
      expect(r.stderr, `timefs ${args.join(' ')}`).toBe('');
      expect(r.code).toBe(0);
      return r.stdout;
    };
    ok(['mkdir', '-p', '/artifacts']);
    const put = ok(['put', '-', '/artifacts/doc.md'], 'the doc\n');
    const v1 = HEX_READ.exec(put)![0];
    ok(['put', '-', '/artifacts/doc.md'], 'overwritten\n');
    ok(['rm', '/artifacts/doc.md']);
    const cat = timefs(data, ['cat', '/artifacts/doc.md']);
    expect(cat.code).toBe(1);
    expect(cat.stderr).toBe('timefs: ENOENT: no such file or directory: /artifacts/doc.md\n');
    expect(ok(['cat', `/artifacts/doc.md@${v1}`])).toBe('the doc\n');
    expect(ok(['ls', `/artifacts@${v1}`])).toBe('doc.md\n');
    // the root's past: `/@V` (or `/.@V`); a selector on `.` is the directory it stands in
    expect(ok(['ls', `/@${v1}`])).toBe('artifacts\n');
    expect(ok(['ls', `/artifacts/.@${v1}`])).toBe('doc.md\n');
    ok(['cp', `/artifacts/doc.md@${v1}`, '/artifacts/doc.md']);
    expect(ok(['cat', '/artifacts/doc.md'])).toBe('the doc\n');
    const history = ok(['history', '/artifacts/doc.md']).trim().split('\n');
    expect(history[0]).toMatch(/cli +copy \/artifacts\/doc\.md@[0-9a-f]{20} -> \/artifacts\/doc\.md$/);
    expect(history[1]).toMatch(/cli +rm \/artifacts\/doc\.md$/);
    const log = JSON.parse(ok(['--json', 'log', '-n', '3'])) as Array<{ version: string; actor: string; paths: string[] }>;
    expect(log).toHaveLength(3);
    expect(log.every((l) => l.actor === 'cli' && HEX_READ.test(l.version))).toBe(true);
    expect(log[1]!.paths).toEqual(['/artifacts/doc.md']); // the rm: what each commit touched
    expect(ok(['diff', '/artifacts/doc.md', v1])).toBe('no changes in /artifacts/doc.md\n');
    const va = ok(['version-at', 'now']).trim();
    expect(va).toMatch(/^[0-9a-f]{16}ffff$/);
    expect(JSON.parse(ok(['--json', 'stat', '/artifacts/doc.md'])).size).toBe(8);
    // put into a directory keeps the local name (like cp/scp); a trailing '/' never makes a file
    const local = path.join(tempDir('cli-local'), 'notes.md');
    fs.writeFileSync(local, 'notes\n');
    expect(ok(['put', local, '/artifacts/'])).toMatch(/^wrote \/artifacts\/notes\.md \(6 B\) at version [0-9a-f]{20}\n$/);
    expect(ok(['put', local, '/artifacts'])).toMatch(/^wrote \/artifacts\/notes\.md /);
    expect(timefs(data, ['put', local, '/nodir/']).stderr).toMatch(/^timefs: ENOTDIR: not a directory: '\/nodir\/' ends in '\/'/);
    expect(ok(['mv', '/artifacts/notes.md', '/artifacts/notes.md'])).toMatch(/\(nothing changed: no new version\)\n$/);
    // an empty answer says so (on stderr: the output stays parseable)
    expect(timefs(data, ['history', '/never'])).toEqual({ code: 0, stdout: '', stderr: 'timefs: no commits touched /never\n' });
  });

  it('imports a tree, and exports it back byte for byte from before an rm -r', () => {
    const data = tempDir('cli-import');
    const src = path.join(tempDir('src'), 'tree');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 120; i++) {
      const rel = `d${i % 7}/sub${i % 3}/file-${i}.txt`;
      files[rel] = i % 10 === 0 ? randomBytes(70_000 + i) : Buffer.from(`file ${i}\n`.repeat(i + 1));
      fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      fs.writeFileSync(path.join(src, rel), files[rel]!);
    }
    fs.symlinkSync('d0/sub0/file-0.txt', path.join(src, 'link'));
    fs.chmodSync(path.join(src, 'd1/sub1/file-1.txt'), 0o750);
    const imp = timefs(data, ['import', src, '/project']);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/^imported 149 entries/);
    const before = timefs(data, ['version-at', 'now']).stdout.trim();
    expect(timefs(data, ['rm', '-r', '/project']).code).toBe(0);
    expect(timefs(data, ['ls', '/']).stdout).toBe('');
    const out = path.join(tempDir('out'), 'restored');
    const exp = timefs(data, ['export', `/project@${before}`, out]);
    expect(exp.code, exp.stderr).toBe(0);
    for (const [rel, content] of Object.entries(files)) expect(fs.readFileSync(path.join(out, rel)).equals(content), rel).toBe(true);
    expect(fs.readlinkSync(path.join(out, 'link'))).toBe('d0/sub0/file-0.txt');
    expect(fs.statSync(path.join(out, 'd1/sub1/file-1.txt')).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(src, 'd2/sub2/file-2.txt')).mtimeMs).toBeCloseTo(fs.statSync(path.join(out, 'd2/sub2/file-2.txt')).mtimeMs, -1);
    // and the restore inside timefs: cp -r from the version
    expect(timefs(data, ['cp', '-r', `/project@${before}`, '/project']).code).toBe(0);
    expect(timefs(data, ['cat', '/project/d3/sub0/file-3.txt']).stdout).toBe('file 3\n'.repeat(4));
    // onto the directory while it exists: put back as it was (not /project/project, not EEXIST)
    timefs(data, ['put', '-', '/project/scratch.txt'], 'junk');
    timefs(data, ['rm', '-r', '/project/d4']);
    const cp = timefs(data, ['cp', '-r', `/project@${before}`, '/project']);
    expect(cp.stdout, cp.stderr).toMatch(/^restored \/project as it was at \/project@[0-9a-f]{20} \(120 files, .*\) at version [0-9a-f]{20}; what it held before is at \/project@[0-9a-f]{20}\n$/);
    const back = path.join(tempDir('out'), 'again');
    expect(timefs(data, ['export', '/project', back]).code).toBe(0);
    for (const [rel, content] of Object.entries(files)) expect(fs.readFileSync(path.join(back, rel)).equals(content), rel).toBe(true);
    expect(fs.existsSync(path.join(back, 'scratch.txt'))).toBe(false);
  });

  it('fails with one clear line and a non-zero exit for bad input', () => {
    const data = tempDir('cli-err');
    timefs(data, ['mkdir', '/d']);
    const v = timefs(data, ['version-at', 'now']).stdout.trim();
    const cases: Array<[string[], RegExp]> = [
      [['cat', '/d'], /^timefs: EISDIR: \/d is a directory \(use ls\)\n$/],
      [['cat', '/d@zzzz'], /^timefs: ENOENT: no such file or directory: \/d@zzzz\n$/],
      [['ls', '/d@7fffffffffffffffffff'], /^timefs: version 7fffffffffffffffffff is from the future: the newest version of 'agent:default' is [0-9a-f]{16}ffff\n$/],
      [['put', '-', '/d@2026-01-01T00:00:00Z/x'], /^timefs: EROFS: read-only: /],
      [['version-at', 'banana'], /^timefs: EINVAL: could not understand the time "banana"/],
      [['-a', 'ghost', 'ls'], /^timefs: ENOENT: unknown agent 'ghost': create it first \(timefs agents create ghost\)\n$/],
      [['-a', '../x', 'ls'], /^timefs: EINVAL: invalid agent name/],
      [['rm', '/d'], /^timefs: EISDIR: is a directory/],
      [['put', '/no/such/local/file', '/x'], /^timefs: ENOENT: no such file or directory, open '\/no\/such\/local\/file'\n$/],
      [['agents', 'delete', 'default'], /add --yes to confirm/],
      [['log', '-n', 'x'], /--limit must be a positive integer/],
      // a past directory as the destination is refused, not replaced by the same directory at head
      [['cp', '-r', '/d', `/d@${v}`], /^timefs: EROFS: read-only: '\/d@[0-9a-f]{20}' names a past version/],
      [['mv', '/d', `/@${v}`], /^timefs: EROFS: read-only: /],
    ];
    for (const [args, re] of cases) {
      const r = timefs(data, args, '');
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack traces
    }
    expect(timefs(data, ['ls', '/']).stdout).toBe('d\n'); // nothing changed
  });

  it('stops quietly when the reader of its output goes away (timefs cat | head -c 5)', () => {
    const data = tempDir('cli-pipe');
    timefs(data, ['put', '-', '/big.txt'], 'line of text\n'.repeat(100_000)); // 1.3 MB: more than a pipe holds
    const r = spawnSync('bash', ['-c', `node ${CLI} --data ${data} cat /big.txt | head -c 5; echo " exit \${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(r.stdout).toBe('line  exit 0\n');
    expect(r.stderr).toBe('');
  });

  it('manages agents, each with its own isolated tree', () => {
    const data = tempDir('cli-agents');
    expect(timefs(data, ['agents', 'create', 'alice', '--retention', '7']).code).toBe(0);
    expect(timefs(data, ['agents', 'create', 'alice']).stderr).toMatch(/already exists/);
    expect(timefs(data, ['-a', 'alice', 'put', '-', '/secret'], 'alice only').code).toBe(0);
    expect(timefs(data, ['agents', 'create', 'bob']).code).toBe(0);
    expect(timefs(data, ['-a', 'bob', 'cat', '/secret']).code).toBe(1);
    expect(timefs(data, ['agents']).stdout).toMatch(/^alice +created .* retention 7 days\nbob +created .* retention 30 days\n$/);
    expect(timefs(data, ['agents', 'delete', 'bob', '--yes']).code).toBe(0);
    expect(JSON.parse(timefs(data, ['--json', 'agents']).stdout).map((a: { name: string }) => a.name)).toEqual(['alice']);
  });
});
if (!built.run) describe('timefs CLI', () => it.skip(built.reason, () => {}));

describe.runIf(built.run)('timefs serve', () => {
  /** `timefs serve` on a free port of loopback; resolves once it says where it serves. */
  const startServe = async (data: string, args: string[]) => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/cli.js');
    const child = spawn(process.execPath, [CLI, '--data', data, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    let url = '';
    for (let i = 0; i < 100 && !url; i++) {
      url = /timefs serving (http:\/\/127\.0\.0\.1:\d+): WebDAV/.exec(log)?.[1] ?? '';
      await new Promise((r) => setTimeout(r, 50));
    }
    return { child, url, log: () => log };
  };

  it('listens on loopback, serves WebDAV, and shuts down cleanly on SIGTERM', async () => {
    const data = tempDir('serve-cli');
    const { child, url, log: logOf } = await startServe(data, ['--no-auth']);
    try {
      expect(url, logOf()).not.toBe('');
      expect(logOf()).toMatch(/AUTHENTICATION IS OFF/);
      expect((await fetch(`${url}/dav/default/hello.txt`, { method: 'PUT', body: 'hi' })).status).toBe(201);
      expect(await (await fetch(`${url}/dav/default/hello.txt`)).text()).toBe('hi');
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logOf()).toMatch(/shutting down/);
      // the data is in the store, readable by the CLI after the server is gone
      expect(timefs(data, ['cat', '/hello.txt']).stdout).toBe('hi');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the quick start on a brand-new data dir: a token for the agent default first, then serve with authentication on', async () => {
    const data = tempDir('serve-token');
    // the agent 'default' exists from the start, whatever runs first
    const token = timefs(data, ['agents', 'token', 'default']).stdout.trim();
    expect(token).toMatch(/^tfs_/);
    expect(timefs(data, ['agents', 'token', 'nobody']).stderr).toMatch(/unknown agent 'nobody'/);
    const { child, url, log } = await startServe(data, []);
    try {
      expect(url, log()).not.toBe('');
      const basic = `Basic ${Buffer.from(`default:${token}`).toString('base64')}`;
      expect((await fetch(`${url}/dav/default/readme.md`, { method: 'PUT', body: 'hi', headers: { authorization: basic } })).status).toBe(201);
      expect(await (await fetch(`${url}/dav/default/readme.md`, { headers: { authorization: basic } })).text()).toBe('hi');
      expect((await fetch(`${url}/dav/default/readme.md`)).status).toBe(401);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

const fdbAbsent = (() => {
  try {
    createRequire(import.meta.url).resolve('foundationdb');
    return false;
  } catch {
    return true;
  }
})();

describe.runIf(built.run && fdbAbsent)('engine selection', () => {
  it('explains in one line what to install when the FoundationDB engine is chosen without its library', () => {
    const r = timefs(tempDir('fdb'), ['--engine', 'fdb', 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^timefs: the FoundationDB engine needs the `foundationdb` npm package and the FDB client library \(libfdb_c\)\. .* or use the default engine \(--engine sqlite\)\. Cause: Cannot find module 'foundationdb'\n$/);
  });
});
