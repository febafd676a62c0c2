import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentFs } from '../../src/fs/agentfs.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { Store } from '../../src/store/store.js';
import { cliBuilt, timefs } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { deployHabits } from './deploy.js';

describe.runIf(cliBuilt())('timefs apps / sql / log (CLI)', () => {
  it('lists apps, runs SQL at head and at a version, and the log interleaves app-database commits', async () => {
    const data = tempDir('apps-cli');
    const store = new Store({ kv: new SqliteEngine({ file: path.join(data, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(data, 'blobs')) });
    await deployHabits(await AgentFs.open(store, 'default', { create: true }));
    await store.close();

    const ls = timefs(data, ['apps', 'ls']);
    expect(ls.stdout).toMatch(/^habits\s+\/apps\/default\/habits\/\s+database: habits\n$/);
    expect(timefs(data, ['sql', 'habits', 'INSERT INTO habits (name) VALUES (?)', '-p', 'stretch']).stdout).toMatch(/^1 row\(s\) changed \(version [0-9a-f]{20}\)/);
    const v1 = /version ([0-9a-f]{20})/.exec(timefs(data, ['sql', 'habits', "INSERT INTO habits (name) VALUES ('walk')"]).stdout)![1]!;
    timefs(data, ['sql', 'habits', "DELETE FROM habits WHERE name = 'stretch'"]);
    expect(timefs(data, ['sql', 'habits', 'SELECT name FROM habits ORDER BY id']).stdout).toBe('name\nwalk\n');
    expect(timefs(data, ['sql', 'habits', 'SELECT name FROM habits ORDER BY id', '--version', v1]).stdout).toBe('name\nstretch\nwalk\n');
    const ro = timefs(data, ['sql', 'habits', 'DELETE FROM habits', '--version', v1]);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toMatch(/^timefs: SQL error: read-only: 'habits' is open at past version/);
    const bad = timefs(data, ['sql', 'habits', 'SELEKT 1']);
    expect([bad.code, bad.stderr]).toEqual([1, 'timefs: SQL error: near "SELEKT": syntax error\n']);
    expect(timefs(data, ['sql', 'no such db!', 'SELECT 1']).stderr).toMatch(/invalid database name/);
    // one version names files and data at the same instant: the file tree at v1 is readable too
    expect(timefs(data, ['cat', `/apps/habits/app.json@${v1}`]).stdout).toContain('"name": "habits"');
    const log = timefs(data, ['log', '-n', '50']).stdout;
    expect(log).toMatch(/cli\s+\[db habits\] sql habits: DELETE FROM habits WHERE name = 'stretch'/);
    expect(log).toMatch(/tool:Write\s+Write\(path="\/apps\/habits\/app.json"/);
    // the DELETE undone: the database put back as it was at v1, one commit, logged
    const r = timefs(data, ['apps', 'restore-db', 'habits', v1]);
    expect(r.stdout, r.stderr).toMatch(new RegExp(`^restored habits as it was at ${v1}, at version [0-9a-f]{20}; what it held before: timefs sql habits "…" --version [0-9a-f]{20}\n$`));
    expect(timefs(data, ['sql', 'habits', 'SELECT name FROM habits ORDER BY id']).stdout).toBe('name\nstretch\nwalk\n');
    expect(timefs(data, ['apps', 'restore-db', 'habits', v1]).stdout).toMatch(/already is as it was at .* \(nothing changed: no new version\)/);
    expect(timefs(data, ['log', '-n', '1']).stdout).toMatch(new RegExp(`cli\\s+\\[db habits\\] restore-db habits to ${v1}`));
    expect(timefs(data, ['apps', 'restore-db', 'nodb', 'now']).stderr).toMatch(/^timefs: no database 'nodb' \(the databases are: habits\)/);
    expect(timefs(data, ['--version']).stdout).toBe('0.1.0\n');
  });
});
