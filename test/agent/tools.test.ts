import { describe, expect, it } from 'vitest';
import { runTool, summarizeCall, toolSchemas } from '../../src/agent/run.js';
import { TOOLS } from '../../src/agent/tools/index.js';
import { makeFs } from '../helpers/fs.js';
import { AgentFs } from '../../src/fs/agentfs.js';
import { TestClock, makeStore } from '../helpers/store.js';

const DAY = 24 * 3600 * 1000;
const HEX20 = /\b[0-9a-f]{20}\b/;

async function setup() {
  const clock = new TestClock();
  const fs = await makeFs({ clock });
  const call = async (name: string, args: unknown) => runTool(fs, name, args);
  const ok = async (name: string, args: unknown) => {
    const r = await call(name, args);
    if (r.isError) throw new Error(`${name} failed: ${r.text}`);
    return r;
  };
  return { fs, clock, call, ok };
}

describe('agent tools', () => {
  it('declares every tool of the issue, with exactly its parameter names and JSON schemas', () => {
    const want: Record<string, string[]> = {
      Read: ['path', 'version', 'offset', 'limit'],
      Write: ['path', 'content'],
      Edit: ['path', 'old_string', 'new_string', 'replace_all'],
      List: ['path', 'version'],
      Glob: ['pattern', 'path', 'version'],
      Grep: ['pattern', 'path', 'glob', 'version'],
      Stat: ['path', 'version'],
      Mkdir: ['path'],
      Delete: ['path', 'recursive'],
      Move: ['src_path', 'dst_path'],
      Copy: ['src_path', 'dst_path', 'src_version'],
      GetVersionAtTimestamp: ['timestamp'],
      History: ['path', 'limit'],
      Diff: ['path', 'from_version', 'to_version'],
      Sql: ['db', 'sql', 'params', 'version'],
      RestoreDatabase: ['db', 'version'],
      DeployApp: ['name'],
    };
    const schemas = toolSchemas();
    expect(schemas.map((s) => s.name).sort()).toEqual(Object.keys(want).sort());
    for (const s of schemas) {
      const props = Object.keys((s.inputSchema as { properties: Record<string, unknown> }).properties);
      for (const p of want[s.name]!) expect(props, `${s.name}.${p}`).toContain(p);
      expect(s.inputSchema.type).toBe('object');
      expect(s.description.length).toBeGreaterThan(30);
    }
    const readOnly = TOOLS.filter((t) => t.readOnly).map((t) => t.name).sort();
    expect(readOnly).toEqual(['Diff', 'GetVersionAtTimestamp', 'Glob', 'Grep', 'History', 'List', 'Read', 'Stat']);
  });

  it('Write, Read, Edit, List, Stat, Mkdir, Move, Delete work and each mutation is one commit by tool:<Name>', async () => {
    const { fs, ok, call } = await setup();
    const before = (await fs.log({ limit: 1000 })).length;
    const w = await ok('Write', { path: '/notes/todo.md', content: 'one\ntwo\nthree\n' });
    expect(w.text).toMatch(/Created \/notes\/todo.md/);
    expect(w.version).toMatch(HEX20);
    expect((await ok('Read', { path: '/notes/todo.md' })).text).toBe('one\ntwo\nthree');
    expect((await ok('Edit', { path: '/notes/todo.md', old_string: 'two', new_string: 'TWO' })).text).toMatch(/replaced 1 occurrence/);
    expect((await fs.readFile('/notes/todo.md')).toString()).toBe('one\nTWO\nthree\n');
    await ok('Mkdir', { path: '/a/b/c' });
    expect((await ok('Mkdir', { path: '/a/b/c' })).text).toMatch(/already exists/);
    await ok('Move', { src_path: '/notes/todo.md', dst_path: '/a/b' });
    expect((await fs.readFile('/a/b/todo.md')).toString()).toContain('TWO');
    const list = (await ok('List', { path: '/a/b' })).text;
    expect(list).toContain('c/');
    expect(list).toMatch(/todo\.md\s+\(\d+ B\)/);
    const st = JSON.parse((await ok('Stat', { path: '/a/b/todo.md' })).text) as { type: string; size: number };
    expect(st).toMatchObject({ type: 'file', size: 14 });
    const del = await ok('Delete', { path: '/a/b/todo.md' });
    const restoreVersion = /src_version="([0-9a-f]{20})"/.exec(del.text)![1]!;
    expect((await fs.readFile(`/a/b/todo.md@${restoreVersion}`)).toString()).toContain('TWO');
    expect((await call('Delete', { path: '/a' })).text).toMatch(/non-empty directory: pass recursive: true/);
    await ok('Delete', { path: '/a', recursive: true });
    expect(await fs.exists('/a')).toBe(false);

    const log = (await fs.log({ limit: 1000 })).slice(0, -before || undefined);
    const mutations = log.map((r) => r.actor).reverse();
    // Write, Edit, Mkdir (the no-op second Mkdir makes no commit), Move, Delete, Delete
    expect(mutations).toEqual(['tool:Write', 'tool:Edit', 'tool:Mkdir', 'tool:Move', 'tool:Delete', 'tool:Delete']);
    expect(log.at(-1)!.summary).toBe('Write(path="/notes/todo.md", content=<14 chars>)');
  });

  it('the seed: GetVersionAtTimestamp("3 days ago"), Read(path, version), Copy(src_version, src_path, dst_path) bring a deleted file back byte for byte', async () => {
    const { fs, clock, ok } = await setup();
    const content = '# Doc\n\nImportant text ✓\n';
    await ok('Write', { path: '/artifacts/doc.md', content });
    clock.advance(3 * DAY + 3600_000);
    await ok('Delete', { path: '/artifacts/doc.md' });
    clock.advance(60_000);
    const v = (await ok('GetVersionAtTimestamp', { timestamp: '3 days ago' })).text.split('\n')[0]!;
    expect(v).toMatch(/^[0-9a-f]{20}$/);
    expect((await ok('Read', { path: '/artifacts/doc.md', version: v })).text).toBe(content.slice(0, -1));
    expect((await ok('Read', { path: `/artifacts/doc.md@${v}` })).text).toBe(content.slice(0, -1));
    await ok('Copy', { src_version: v, src_path: '/artifacts/doc.md', dst_path: '/artifacts/doc.md' });
    expect((await fs.readFile('/artifacts/doc.md')).toString()).toBe(content);
    const hist = (await ok('History', { path: '/artifacts/doc.md' })).text;
    expect(hist.split('\n').slice(1).map((l) => l.split(/\s+/)[2])).toEqual(['tool:Copy', 'tool:Delete', 'tool:Write']);
  });

  it('Copy of a directory from the past onto its own path puts it back as it was, and says how to undo that', async () => {
    const { fs, ok } = await setup();
    await ok('Write', { path: '/site/index.html', content: '<h1>v1</h1>' });
    await ok('Write', { path: '/site/css/main.css', content: 'body{}' });
    const v = (await ok('GetVersionAtTimestamp', { timestamp: 'now' })).text.split('\n')[0]!;
    await ok('Write', { path: '/site/index.html', content: '<h1>broken</h1>' });
    await ok('Delete', { path: '/site/css', recursive: true });
    await ok('Write', { path: '/site/tmp.txt', content: 'scratch' });
    const r = await ok('Copy', { src_path: '/site', dst_path: '/site', src_version: v });
    const m = /^Restored \/site to how it was at version ([0-9a-f]{20}): 2 files in 2 directories \(version [0-9a-f]{20}\)\. Anything added there since is gone from the current state; what it held just before is readable at version ([0-9a-f]{20})\.$/.exec(r.text);
    expect(m, r.text).not.toBeNull();
    expect(m![1]).toBe(v);
    expect((await ok('List', { path: '/site' })).text).not.toMatch(/tmp\.txt|\/site\/site/);
    expect((await fs.readFile('/site/index.html')).toString()).toBe('<h1>v1</h1>');
    expect((await fs.readFile('/site/css/main.css')).toString()).toBe('body{}');
    expect((await ok('Read', { path: '/site/tmp.txt', version: m![2] })).text).toBe('scratch');
  });

  it('every read tool reads the past, via version or path@version, and times are accepted as versions', async () => {
    const { fs, clock, ok } = await setup();
    await ok('Write', { path: '/src/a.ts', content: 'export const a = 1; // TODO old\n' });
    const v1 = (await fs.head());
    clock.advance(DAY);
    await ok('Write', { path: '/src/a.ts', content: 'export const a = 2;\n' });
    await ok('Write', { path: '/src/b.ts', content: 'b\n' });
    expect((await ok('Read', { path: '/src/a.ts', version: v1 })).text).toContain('a = 1');
    expect((await ok('Read', { path: '/src/a.ts', version: '2026-11-20T12:00:00Z' })).text).toContain('a = 1');
    expect((await ok('List', { path: '/src', version: v1 })).text).not.toContain('b.ts');
    expect((await ok('List', { path: `/src@${v1}` })).text).toContain('a.ts');
    expect((await ok('Glob', { pattern: '**/*.ts', version: v1 })).text).toBe('/src/a.ts');
    expect((await ok('Glob', { pattern: '*.ts' })).text).toBe('/src/a.ts\n/src/b.ts');
    expect((await ok('Grep', { pattern: 'TODO', version: v1 })).text).toBe('/src/a.ts:1: export const a = 1; // TODO old');
    expect((await ok('Grep', { pattern: 'TODO' })).text).toMatch(/no matches/);
    expect(JSON.parse((await ok('Stat', { path: '/src/a.ts', version: v1 })).text).read_at_version).toBe(v1);
    const diff = (await ok('Diff', { path: '/src/a.ts', from_version: v1 })).text;
    expect(diff).toContain('-export const a = 1; // TODO old');
    expect(diff).toContain('+export const a = 2;');
    const tree = (await ok('Diff', { path: '/src', from_version: v1 })).text;
    expect(tree).toContain('+ b.ts');
    expect(tree).toContain('M a.ts');
  });

  it('pages long files, long listings and many matches, and describes binary files', async () => {
    const { fs, ok } = await setup();
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i + 1}`);
    await fs.writeFile('/big.txt', `${lines.join('\n')}\n`);
    const first = (await ok('Read', { path: '/big.txt' })).text;
    expect(first.split('\n')[0]).toBe('line 1');
    expect(first).toMatch(/showing lines 1–2000 .*call Read with offset=2001/);
    const page = (await ok('Read', { path: '/big.txt', offset: 4999, limit: 10 })).text;
    expect(page).toBe('line 4999\nline 5000\n[showing lines 4999–5000 of 5000: the end of the file]');
    await fs.writeFile('/wide.txt', 'x'.repeat(300_000));
    expect((await ok('Read', { path: '/wide.txt' })).text).toMatch(/line cut at 2000 of 300000/);
    await fs.writeFile('/bin.dat', Buffer.from([0, 1, 2, 3, 0, 255]));
    expect((await ok('Read', { path: '/bin.dat' })).text).toMatch(/binary file: 6 B .*sha256 [0-9a-f]{64}; not shown/);
    await fs.transaction('many', async (tx) => {
      await tx.mkdir('/many');
      for (let i = 0; i < 700; i++) await tx.writeFile(`/many/f${String(i).padStart(4, '0')}.txt`, Buffer.from('needle\n'));
    });
    const l1 = (await ok('List', { path: '/many' })).text;
    expect(l1).toMatch(/showing entries 1–500 of 700; call List with offset=500/);
    expect((await ok('List', { path: '/many', offset: 500 })).text.split('\n')[1]).toMatch(/^f0500.txt/);
    expect((await ok('Grep', { pattern: 'needle', path: '/many' })).text).toMatch(/showing matches 1–200 of 700 in 700 files; call Grep with offset=200/);
    expect((await ok('Glob', { pattern: '*.txt', path: '/many', limit: 5 })).text).toMatch(/showing 1–5 of 700 matches; call Glob with offset=5/);
  });

  it('returns clear, actionable error text for every bad argument, and changes nothing', async () => {
    const { fs, ok, call } = await setup();
    await ok('Write', { path: '/d/f.txt', content: 'aaa aaa\n' });
    const head = await fs.head();
    const cases: Array<[string, unknown, RegExp]> = [
      ['Nope', {}, /unknown tool "Nope": the tools are Read, Write/],
      ['Read', '{not json', /not valid JSON/],
      ['Read', [], /expected a JSON object/],
      ['Read', {}, /invalid arguments for Read:[\s\S]*path/],
      ['Read', { path: 5 }, /expected string/],
      ['Read', { path: '/d/f.txt', extra: 1 }, /Unrecognized key: "extra"/],
      ['Read', { path: '/nope.txt' }, /ENOENT: .*nope\.txt/],
      ['Read', { path: '/d' }, /is a directory: use List/],
      ['Read', { path: '/d/f.txt', version: '123' }, /could not understand the time "123"|invalid version/],
      ['Read', { path: '/d/f.txt', version: 'ffffffffffffffffffff' }, /from the future/],
      ['Read', { path: '/d/f.txt', version: '00000000000000010000' }, /nothing existed at version 00000000000000010000: it is older than this agent's first version/],
      ['Read', { path: '/d/f.txt', version: 'not a time at all' }, /could not understand the time/],
      ['Read', { path: `/d/f.txt@${head}`, version: head }, /carries @.* and a version was also given/],
      ['List', { path: '/d/f.txt' }, /not a directory/],
      ['Write', { path: `/d/f.txt@${head}`, content: 'x' }, /EROFS: read-only: .* names a past version/],
      ['Write', { path: '/', content: 'x' }, /root directory/],
      ['Write', { path: '/d/f.txt/sub', content: 'x' }, /ENOTDIR/],
      ['Edit', { path: '/d/f.txt', old_string: 'zzz', new_string: 'y' }, /was not found in \/d\/f.txt: Read the file/],
      ['Edit', { path: '/d/f.txt', old_string: 'aaa', new_string: 'b' }, /occurs 2 times .* replace_all: true/],
      ['Edit', { path: '/d/f.txt', old_string: 'aaa', new_string: 'aaa' }, /the same: nothing to change/],
      ['Delete', { path: '/' }, /cannot delete the root/],
      ['Delete', { path: '/missing' }, /ENOENT/],
      ['Move', { src_path: '/d', dst_path: '/d/inside' }, /into itself/],
      ['Copy', { src_path: '/missing', dst_path: '/x' }, /ENOENT/],
      ['Copy', { src_path: '/d/f.txt', dst_path: `/x@${head}` }, /EROFS/],
      ['Grep', { pattern: '(' }, /invalid regular expression "\(":/],
      ['Glob', { pattern: '' }, /empty glob pattern/],
      ['GetVersionAtTimestamp', { timestamp: 'blorp' }, /could not understand the time "blorp"/],
      ['GetVersionAtTimestamp', { timestamp: '1999-01-01T00:00:00Z' }, /no version .* at or before 1999/],
      ['History', { path: '/d', before: 'xyz' }, /invalid version|20 hex/i],
      ['Diff', { path: '/d/f.txt', from_version: 'garbage!' }, /could not understand the time/],
      ['Read', { path: '/a\u0000b' }, /NUL/],
      ['Read', { path: '/../../etc/passwd' }, /ENOENT: .*\/etc\/passwd/],
    ];
    for (const [tool, args, re] of cases) {
      const r = await call(tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)} → ${r.text}`).toBe(true);
      expect(r.text, `${tool} ${JSON.stringify(args)}`).toMatch(re);
    }
    expect(await fs.head()).toBe(head);
    expect((await fs.readFile('/d/f.txt')).toString()).toBe('aaa aaa\n');
  });

  it('an expired version is a clear error naming the oldest readable version', async () => {
    const clock = new TestClock();
    const store = makeStore({ clock, retentionMs: DAY });
    const fs = await AgentFs.open(store, 'old', { create: true });
    await runTool(fs, 'Write', { path: '/a.txt', content: 'v1' });
    const v1 = await fs.head();
    clock.advance(DAY + 1000);
    await runTool(fs, 'Write', { path: '/a.txt', content: 'v2' });
    clock.advance(2 * DAY);
    await store.gc({ graceMs: 0 });
    const r = await runTool(fs, 'Read', { path: '/a.txt', version: v1 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^version expired: .* the oldest readable version is [0-9a-f]{20}$/);
    expect((await runTool(fs, 'Read', { path: '/a.txt' })).text).toBe('v2');
  });

  it('a catastrophic regular expression fails Grep after its time limit without stalling the process', async () => {
    const { fs, call } = await setup();
    await fs.writeFile('/evil.txt', `${'a'.repeat(40)}!\n`);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    const t0 = Date.now();
    const r = await call('Grep', { pattern: '(a+)+$' });
    clearInterval(timer);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/took longer than 5 s \(catastrophic backtracking\?\): simplify it/);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(ticks).toBeGreaterThan(50); // the event loop kept running meanwhile
    // the next Grep works (a fresh worker)
    expect((await call('Grep', { pattern: 'a!' })).text).toMatch(/^\/evil.txt:1: a+!$/);
  }, 15_000);

  it('summarizes arguments for the commit log without copying content', () => {
    expect(summarizeCall('Edit', { path: '/a', old_string: 'x', new_string: 'y'.repeat(500), replace_all: true })).toBe(
      'Edit(path="/a", old_string=<1 chars>, new_string=<500 chars>, replace_all=true)',
    );
    expect(summarizeCall('Copy', { src_path: '/a', dst_path: '/b', src_version: '00003a6ed63a7951ffff' })).toBe(
      'Copy(src_path="/a", dst_path="/b", src_version="00003a6ed63a7951ffff")',
    );
  });
});
