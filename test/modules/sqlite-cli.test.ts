// The sqlite3 CLI engine (used where better-sqlite3 is absent, as in the
// packaged build): consistent copies while another process writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { copyWithSqlite3, findSqlite3 } from '../../src/modules/sqlite-cli.ts';
import { tempDir } from '../helpers/cli.ts';

const sqlite3 = findSqlite3();

test('sqlite3 .backup inside one read transaction: consistent copies of a WAL database under concurrent writes', { skip: !sqlite3 && 'sqlite3 not installed' }, async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const dbPath = join(d.path, 'config.db');
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tree (inode INTEGER PRIMARY KEY, batch INTEGER NOT NULL, data BLOB)');
  db.close();
  const writer = join(d.path, 'writer.cjs');
  writeFileSync(
    writer,
    `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
const db = new D(${JSON.stringify(dbPath)}); db.pragma('busy_timeout = 5000');
const ins = db.prepare('INSERT INTO tree (batch, data) VALUES (?, ?)');
const pair = db.transaction((b) => { ins.run(b, Buffer.alloc(2048, b % 251)); ins.run(b, Buffer.alloc(2048, b % 251)); });
let b = 0; const end = Date.now() + 2500;
while (Date.now() < end) pair(b++);`,
  );
  const child = spawn(process.execPath, [writer], { stdio: 'ignore' });
  const done = new Promise<void>((res) => child.on('close', () => res()));
  await new Promise((r) => setTimeout(r, 300));
  let copies = 0;
  mkdirSync(join(d.path, 'copies'));
  while (child.exitCode === null) {
    const copy = join(d.path, 'copies', `copy ${copies}.db`);
    assert.equal(await copyWithSqlite3({ sqlite3: sqlite3!, src: dbPath, copy, timeoutMs: 20_000 }), 'ok');
    const c = new Database(copy, { readonly: true });
    const odd = c.prepare('SELECT count(*) AS n FROM (SELECT batch FROM tree GROUP BY batch HAVING count(*) <> 2)').get() as { n: number };
    const rows = c.prepare('SELECT count(*) AS n FROM tree').get() as { n: number };
    c.close();
    assert.equal(odd.n, 0, 'no transaction is torn in the copy');
    assert.ok(rows.n > 0);
    copies++;
  }
  await done;
  assert.ok(copies >= 1, 'a copy finished while the writer ran');
  await assert.rejects(copyWithSqlite3({ sqlite3: sqlite3!, src: join(d.path, 'nope.db'), copy: join(d.path, 'x.db'), timeoutMs: 5000 }), /sqlite3 .backup failed/);
});
