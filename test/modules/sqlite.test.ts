// The sqlite module on a real database that another process writes to while
// we copy it: every copy is consistent and passes integrity_check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startBusyWriter, tornBatches } from '../helpers/busy-sqlite.ts';
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
  // The writer inserts pairs of rows in one transaction, as fast as it can.
  const { child, started, stop, batches } = startBusyWriter(dbPath, 4000);
  const root = new HostRoot(d.path);
  const accounts = loadAccounts(root);
  let copies = 0;
  await started;
  while (child.exitCode === null && copies < 6) {
    const plan = await planSqlite({ task, root, accounts, defaultTimeout: 30 });
    assert.equal(plan.status, 'planned', plan.reason);
    const content = plan.entries[0]!.content!;
    const copyPath = join(d.path, `copy-${copies}.db`);
    writeFileSync(copyPath, content);
    const c = new Database(copyPath, { readonly: true });
    assert.equal(c.pragma('integrity_check', { simple: true }), 'ok');
    const torn = tornBatches(c);
    assert.equal(torn, 0, 'no transaction is torn in the copy');
    c.close();
    copies++;
  }
  await stop();
  assert.ok(copies >= 2, `made ${copies} copies while the writer ran`);
  assert.ok(batches() > 0);
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
