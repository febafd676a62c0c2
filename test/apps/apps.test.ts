import { describe, expect, it } from 'vitest';
import { runTool } from '../../src/agent/run.js';
import { startServer } from '../helpers/server.js';
import { deployHabits } from './deploy.js';

const json = { 'content-type': 'application/json' };

describe('apps: agent-deployed web apps served by timefs', () => {
  it('serves the habit tracker: static files with MIME/ETag/Range, handlers with SQL, and any past version (code + data)', async () => {
    const srv = await startServer();
    const fs = await srv.agent('builder');
    const text = await deployHabits(fs);
    expect(text).toMatch(/Deployed habits: \/apps\/builder\/habits\/ .*\nhandlers: \/api\/checkin, \/api\/habits/);
    const base = `${srv.url}/apps/builder/habits`;

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const etag = page.headers.get('etag')!;
    expect(await page.text()).toContain('<h1>Habits</h1>');
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${base}/style.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const part = await fetch(`${base}/index.html`, { headers: { range: 'bytes=0-14' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('<!doctype html>');
    expect((await fetch(`${base}/nope.html`)).status).toBe(404);
    expect((await fetch(`${srv.url}/apps/builder/habits`, { redirect: 'manual' })).headers.get('location')).toBe('/apps/builder/habits/');

    const add = await fetch(`${base}/api/habits`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'run' }) });
    expect(add.status).toBe(201);
    expect(await add.json()).toEqual({ id: 1, name: 'run' });
    const v1 = (await runTool(fs, 'Sql', { db: 'habits', sql: 'SELECT count(*) AS n FROM habits' })).text;
    expect(v1).toContain('1');
    const log = await (await srv.store.namespace('sql:builder/habits')).log({ limit: 1 });
    const version1 = `${log[0]!.version.slice(0, 16)}ffff`;
    await fetch(`${base}/api/habits`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'read' }) });
    await fetch(`${base}/api/checkin`, { method: 'POST', headers: json, body: JSON.stringify({ id: 2, day: '2026-11-25' }) });
    expect(await (await fetch(`${base}/api/habits`)).json()).toEqual([
      { id: 1, name: 'run', checkins: 0 },
      { id: 2, name: 'read', checkins: 1 },
    ]);
    // a moment's version (GetVersionAtTimestamp) names the app's data at that moment too, although
    // the files' last commit (the deploy) is older than the database's
    const now = (await runTool(fs, 'GetVersionAtTimestamp', { timestamp: 'now' })).text.split('\n')[0]!;
    expect(await (await fetch(`${srv.url}/apps/builder/habits@${now}/api/habits`)).json()).toEqual([
      { id: 1, name: 'run', checkins: 0 },
      { id: 2, name: 'read', checkins: 1 },
    ]);
    expect((await runTool(fs, 'Sql', { db: 'habits', sql: 'SELECT count(*) AS n FROM checkins', version: now })).text).toBe(`n\n1\n[1 row (at version ${now})]`);
    expect((await runTool(fs, 'Read', { path: '/apps/habits/app.json', version: now })).text).toContain('habits');
    // the past: ?version= redirects to the @version base, which serves code and data as they were
    const redirect = await fetch(`${base}/?version=${version1}`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`/apps/builder/habits@${version1}/`);
    const old = await fetch(`${srv.url}/apps/builder/habits@${version1}/api/habits`);
    expect(old.headers.get('cache-control')).toMatch(/immutable/);
    expect(await old.json()).toEqual([{ id: 1, name: 'run', checkins: 0 }]);
    const write = await fetch(`${srv.url}/apps/builder/habits@${version1}/api/habits`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'x' }) });
    expect(write.status).toBe(500);
    expect(((await write.json()) as { error: string }).error).toMatch(/read-only: 'habits' is open at past version/);
    // the Sql tool reads the same past
    expect((await runTool(fs, 'Sql', { db: 'habits', sql: 'SELECT name FROM habits', version: version1 })).text).toBe(`name\nrun\n[1 row (at version ${version1})]`);
    expect((await runTool(fs, 'Sql', { db: 'habits', sql: "INSERT INTO habits (name) VALUES ('x')", version: version1 })).text).toMatch(/read-only/);
    // a wrong DELETE, undone: RestoreDatabase puts the data back and the running app serves it
    expect((await runTool(fs, 'Sql', { db: 'habits', sql: 'DELETE FROM checkins; DELETE FROM habits' })).isError).toBe(false);
    expect(await (await fetch(`${base}/api/habits`)).json()).toEqual([]);
    const restored = await runTool(fs, 'RestoreDatabase', { db: 'habits', version: now });
    expect(restored.text).toMatch(new RegExp(`^Restored database habits to how it was at version ${now} \\(version [0-9a-f]{20}\\)\\. What it held just before is readable with Sql\\(db="habits", sql="SELECT …", version="[0-9a-f]{20}"\\)\\.$`));
    expect(await (await fetch(`${base}/api/habits`)).json()).toEqual([
      { id: 1, name: 'run', checkins: 0 },
      { id: 2, name: 'read', checkins: 1 },
    ]);
    await fetch(`${base}/api/habits`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'swim' }) });
    expect((await (await fetch(`${base}/api/habits`)).json()).map((h: { name: string }) => h.name)).toEqual(['run', 'read', 'swim']);
    const emptied = /version="([0-9a-f]{20})"/.exec(restored.text)![1]!;
    expect((await runTool(fs, 'Sql', { db: 'habits', sql: 'SELECT count(*) AS n FROM habits', version: emptied })).text).toBe(`n\n0\n[1 row (at version ${emptied})]`);
    expect((await runTool(fs, 'RestoreDatabase', { db: 'nope', version: now })).text).toMatch(/^ENOENT: no database 'nope' \(the databases are: habits\)/);
    // app-database commits are attributed and carry the SQL
    const sqlLog = await (await srv.store.namespace('sql:builder/habits')).log({ limit: 10 });
    expect(sqlLog.map((r) => r.actor)).toContain('app:habits');
    expect(sqlLog.map((r) => r.summary).join('\n')).toMatch(/sql habits: INSERT INTO checkins/);
  });

  it('sandbox: no require/process/fetch/imports, no other database, loops and memory bombs get a 5xx and the server keeps serving', async () => {
    const srv = await startServer();
    const fs = await srv.agent('evil');
    const other = await srv.agent('victim');
    await runTool(other, 'Sql', { db: 'secrets', sql: "CREATE TABLE s (v TEXT); INSERT INTO s VALUES ('VICTIM-SECRET')" });
    await fs.writeFile('/apps/x/app.json', JSON.stringify({ name: 'x' }), { parents: true });
    const handlers: Record<string, string> = {
      probe: `export default function () { return { json: [typeof require, typeof process, typeof fetch, typeof setTimeout, typeof XMLHttpRequest, typeof globalThis.__query] } }`,
      require: `export default function () { return require('fs').readFileSync('/etc/passwd', 'utf8') }`,
      proc: `export default function () { return process.env }`,
      imp: `import fs from 'node:fs'; export default function () { return fs.readFileSync('/etc/passwd', 'utf8') }`,
      dyn: `export default async function () { return (await import('node:fs')).readFileSync('/etc/passwd', 'utf8') }`,
      attach: `export default function (req, db) { return db.query("ATTACH DATABASE 'sql:victim/secrets' AS v") }`,
      ctor: `export default function () { return (function(){}).constructor('return typeof process')() }`,
      loop: `export default function () { for (;;) {} }`,
      bomb: `export default function () { const a = []; for (;;) a.push(new Array(1e6).fill('x')) }`,
      huge: `export default function () { return 'x'.repeat(20 * 1024 * 1024) }`,
      ok: `export default function (req, db) { return { json: db.query('SELECT 40 + 2 AS answer') } }`,
    };
    for (const [name, code] of Object.entries(handlers)) await fs.writeFile(`/apps/x/api/${name}.js`, code, { parents: true });
    const dep = await runTool(fs, 'DeployApp', { name: 'x' });
    expect(dep.isError).toBe(true);
    expect(dep.text).toMatch(/imp\.js.*imports are not available|handler does not compile/);
    const call = async (name: string) => {
      const r = await fetch(`${srv.url}/apps/evil/x/api/${name}`);
      return { status: r.status, body: await r.text() };
    };
    expect(JSON.parse((await call('probe')).body)).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
    expect(await call('require')).toMatchObject({ status: 500, body: expect.stringMatching(/require is not defined/) });
    expect(await call('proc')).toMatchObject({ status: 500, body: expect.stringMatching(/process is not defined/) });
    expect(await call('imp')).toMatchObject({ status: 500, body: expect.stringMatching(/imports are not available/) });
    expect((await call('dyn')).status).toBe(500);
    expect(await call('attach')).toMatchObject({ status: 500, body: expect.stringMatching(/refused: ATTACH/) });
    expect(JSON.parse((await call('ctor')).body)).toBe('undefined');
    const t0 = Date.now();
    expect(await call('loop')).toMatchObject({ status: 504, body: expect.stringMatching(/ran longer than 2000 ms/) });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await call('bomb')).toMatchObject({ status: 503, body: expect.stringMatching(/memory limit/) });
    expect((await call('huge')).status).toBe(500);
    // and the server (and the same app) keeps serving
    expect(JSON.parse((await call('ok')).body)).toEqual([{ answer: 42 }]);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    for (const name of Object.keys(handlers)) expect((await call(name)).body).not.toContain('VICTIM-SECRET');
  });
});
