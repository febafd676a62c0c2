import { describe, expect, it } from 'vitest';
import { SqlDatabase } from '../../src/sqlvfs/database.js';
import { makeStore } from '../helpers/store.js';

describe('sqlvfs smoke', () => {
  it('creates, inserts, reads at head and at a past version', async () => {
    const store = makeStore();
    const db = await SqlDatabase.open(store, 'sql:t/app', 'app', { create: true });
    db.query('CREATE TABLE habits (id INTEGER PRIMARY KEY, name TEXT NOT NULL, done INTEGER DEFAULT 0)');
    db.query('INSERT INTO habits (name) VALUES (?)', ['run']);
    const v1 = db.committed!;
    db.query('INSERT INTO habits (name) VALUES (?)', ['read']);
    expect(db.all('SELECT name FROM habits ORDER BY id')).toEqual([{ name: 'run' }, { name: 'read' }]);
    const past = await SqlDatabase.open(store, 'sql:t/app', 'app', { version: v1 });
    expect(past.all('SELECT name FROM habits ORDER BY id')).toEqual([{ name: 'run' }]);
    expect(() => past.query("INSERT INTO habits (name) VALUES ('x')")).toThrow(/read-only/);
    expect(past.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    db.close();
    past.close();
    const again = await SqlDatabase.open(store, 'sql:t/app', 'app');
    expect(again.all('SELECT count(*) AS n FROM habits')).toEqual([{ n: 2 }]);
    expect(again.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  });
});
