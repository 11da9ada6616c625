// The sqlite3 CLI engine (used where better-sqlite3 is absent, as in the
// packaged build): consistent copies while another process writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startBusyWriter, tornBatches } from '../helpers/busy-sqlite.ts';
import { copyWithSqlite3, findSqlite3 } from '../../src/modules/sqlite-cli.ts';
import { tempDir } from '../helpers/cli.ts';

const sqlite3 = findSqlite3();

test('sqlite3 .backup inside one read transaction: consistent copies of a WAL database under concurrent writes', { skip: !sqlite3 && 'sqlite3 not installed' }, async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const dbPath = join(d.path, 'config.db');
  const { child, started, stop } = startBusyWriter(dbPath, 2500);
  await started;
  let copies = 0;
  mkdirSync(join(d.path, 'copies'));
  while (child.exitCode === null && copies < 3) {
    const copy = join(d.path, 'copies', `copy ${copies}.db`);
    assert.equal(await copyWithSqlite3({ sqlite3: sqlite3!, src: dbPath, copy, timeoutMs: 20_000 }), 'ok');
    const c = new Database(copy, { readonly: true });
    const torn = tornBatches(c);
    const rows = c.prepare('SELECT count(*) AS n FROM tree').get() as { n: number };
    c.close();
    assert.equal(torn, 0, 'no transaction is torn in the copy');
    assert.ok(rows.n > 0);
    copies++;
  }
  await stop();
  assert.ok(copies >= 1, 'a copy finished while the writer ran');
  await assert.rejects(copyWithSqlite3({ sqlite3: sqlite3!, src: join(d.path, 'nope.db'), copy: join(d.path, 'x.db'), timeoutMs: 5000 }), /sqlite3 .backup failed/);
});
