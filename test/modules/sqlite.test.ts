// The sqlite module on a real database that another process writes to while
// we copy it: every copy is consistent and passes integrity_check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { planSqlite } from '../../src/modules/sqlite.ts';
import { HostRoot } from '../../src/ports/host-root.ts';
import { loadAccounts } from '../../src/facts/accounts.ts';
import type { LoadedTask } from '../../src/tasks/load-tasks.ts';
import { tempDir } from '../helpers/cli.ts';

const task: LoadedTask = {
  def: { name: 'db', tags: [], secret: false, sqlite: '/var/lib/pve-cluster/config.db', critical: false },
  name: 'db',
  module: 'sqlite',
  file: 't.yaml',
  line: 1,
  group: 'pve',
  when: undefined,
  dropLines: [],
  replace: [],
};

test('consistent online copies of a WAL database under concurrent writes', async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const dir = join(d.path, 'var/lib/pve-cluster');
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, 'config.db');
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tree (inode INTEGER PRIMARY KEY, batch INTEGER NOT NULL, name TEXT NOT NULL, data BLOB)');
  db.close();
  // The writer inserts pairs of rows in one transaction, as fast as it can.
  const writer = join(d.path, 'writer.cjs');
  writeFileSync(
    writer,
    `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
const db = new D(${JSON.stringify(dbPath)}); db.pragma('busy_timeout = 5000');
const ins = db.prepare('INSERT INTO tree (batch, name, data) VALUES (?, ?, ?)');
const pair = db.transaction((b) => { ins.run(b, 'a', Buffer.alloc(2048, b % 251)); ins.run(b, 'b', Buffer.alloc(2048, b % 251)); });
let b = 0; const end = Date.now() + 4000;
while (Date.now() < end) pair(b++);
process.stdout.write(String(b));`,
  );
  const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'pipe', 'inherit'] });
  let written = '';
  child.stdout.on('data', (x) => (written += x));
  const done = new Promise<void>((res) => child.on('close', () => res()));
  const root = new HostRoot(d.path);
  const accounts = loadAccounts(root);
  let copies = 0;
  await new Promise((r) => setTimeout(r, 300));
  while (child.exitCode === null && copies < 20) {
    const plan = await planSqlite({ task, root, accounts, defaultTimeout: 30 });
    assert.equal(plan.status, 'planned', plan.reason);
    const content = plan.entries[0]!.content!;
    const copyPath = join(d.path, `copy-${copies}.db`);
    writeFileSync(copyPath, content);
    const c = new Database(copyPath, { readonly: true });
    assert.equal(c.pragma('integrity_check', { simple: true }), 'ok');
    const odd = c.prepare('SELECT count(*) AS n FROM (SELECT batch FROM tree GROUP BY batch HAVING count(*) <> 2)').get() as { n: number };
    assert.equal(odd.n, 0, 'no transaction is torn in the copy');
    c.close();
    copies++;
  }
  await done;
  assert.ok(copies >= 2, `made ${copies} copies while the writer ran`);
  assert.ok(Number(written) > 0);
});

test('a missing database is skipped, a corrupt one fails the task', async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const root = new HostRoot(d.path);
  const accounts = loadAccounts(root);
  const missing = await planSqlite({ task, root, accounts, defaultTimeout: 10 });
  assert.equal(missing.status, 'skipped');
  mkdirSync(join(d.path, 'var/lib/pve-cluster'), { recursive: true });
  writeFileSync(join(d.path, 'var/lib/pve-cluster/config.db'), 'this is not a database at all, just text that goes on'.repeat(100));
  const bad = await planSqlite({ task, root, accounts, defaultTimeout: 10 });
  assert.equal(bad.status, 'failed');
  assert.match(bad.reason!, /config\.db/);
  assert.deepEqual(bad.keep, ['var/lib/pve-cluster/config.db'], 'the previous copy is kept');
});
