// The node_exporter textfile written after each run, checked by Prometheus's
// own parser and linter (`promtool check metrics`, Debian package prometheus).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { renderMetrics } from '../../src/metrics/render-metrics.ts';

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

function promtool(text: string): void {
  if (!hasPromtool) return;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
}

/** name{labels} → value, for the assertions (promtool has already parsed the same text). */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('#')) continue;
    const i = l.lastIndexOf(' ');
    m.set(l.slice(0, i), Number(l.slice(i + 1)));
  }
  return m;
}

test('metrics after each run: run, tasks, snapshot, archive and per-target figures; atomic; valid for promtool', { skip: !hasPromtool && 'promtool not installed (apt-get install prometheus)' }, async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  const dir = join(h.base, 'textfile');
  const secondary = join(h.base, 'secondary');
  mkdirSync(secondary);
  appendFileSync(h.config, `METRICS_ENABLED=true\nMETRICS_PATH=${dir}/proxsave.prom\nSECONDARY_ENABLED=true\nSECONDARY_PATH=${secondary}\nMIN_DISK_SPACE_PRIMARY_GB=0\nMIN_DISK_SPACE_SECONDARY_GB=0\n`);
  const r1 = await h.run('run');
  assert.equal(r1.code, 0, r1.stderr);
  const t1 = readFileSync(join(dir, 'proxsave.prom'), 'utf8');
  promtool(t1);
  const s1 = samples(t1);
  const host = '{host="node1"}';
  assert.equal(s1.get(`proxsave_last_run_exit_code${host}`), 0);
  assert.equal(s1.get(`proxsave_last_run_success${host}`), 1);
  assert.equal(s1.get(`proxsave_snapshot_commits${host}`), 1);
  assert.equal(s1.get(`proxsave_last_run_committed${host}`), 1);
  assert.equal(s1.get(`proxsave_last_run_tasks{host="node1",status="changed"}`), 3);
  assert.equal(s1.get(`proxsave_last_run_files_collected${host}`), 7);
  assert.equal(s1.get(`proxsave_last_commit_paths_changed${host}`), 7);
  const archive = readdirSync(join(h.base, 'backups')).find((n) => n.endsWith('.tar.zst'))!;
  const size = readFileSync(join(h.base, 'backups', archive)).length;
  assert.equal(s1.get(`proxsave_archive_size_bytes${host}`), size);
  for (const target of ['local', 'secondary']) {
    assert.equal(s1.get(`proxsave_target_archives{host="node1",target="${target}"}`), 1, target);
    assert.equal(s1.get(`proxsave_target_bytes{host="node1",target="${target}"}`), size, target);
    assert.equal(s1.get(`proxsave_target_up{host="node1",target="${target}"}`), 1, target);
  }
  const start = s1.get(`proxsave_last_run_start_timestamp_seconds${host}`)!;
  const end = s1.get(`proxsave_last_run_end_timestamp_seconds${host}`)!;
  assert.ok(Math.abs(start - Date.now() / 1000) < 60 && end >= start);
  assert.ok(Math.abs(s1.get(`proxsave_last_run_duration_seconds${host}`)! - (end - start)) < 0.01);
  assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.')), ['proxsave.prom'], 'no temporary file left beside it');

  // A change, then an unchanged run: counts move on; the last commit's figures stay.
  h.write('/etc/hosts', '127.0.0.1 localhost\n192.0.2.11 node1\n');
  assert.equal((await h.run('run')).code, 0);
  assert.equal((await h.run('run')).code, 0);
  const s3 = samples(readFileSync(join(dir, 'proxsave.prom'), 'utf8'));
  assert.equal(s3.get(`proxsave_snapshot_commits${host}`), 2);
  assert.equal(s3.get(`proxsave_last_run_committed${host}`), 0);
  const lastChanged = execFileSync('git', ['-C', h.repo, 'diff', '--name-only', 'HEAD~1', 'HEAD'], { encoding: 'utf8' }).split('\n').filter((p) => p && !p.startsWith('.proxsave/'));
  assert.ok(lastChanged.includes('etc/hosts'));
  assert.equal(s3.get(`proxsave_last_commit_paths_changed${host}`), lastChanged.length);
  // (SOURCE_DATE_EPOCH is fixed in tests, so both commits give the same archive name.)
  const onDisk = readdirSync(join(h.base, 'backups')).filter((n) => n.endsWith('.tar.zst'));
  assert.equal(s3.get(`proxsave_target_archives{host="node1",target="local"}`), onDisk.length);
  assert.equal(s3.get(`proxsave_target_bytes{host="node1",target="local"}`), onDisk.reduce((n, f) => n + readFileSync(join(h.base, 'backups', f)).length, 0));
  const commitTime = Number(execFileSync('git', ['-C', h.repo, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }));
  assert.equal(s3.get(`proxsave_last_commit_timestamp_seconds${host}`), commitTime);

  // A failed run: exit code recorded; the target that failed is down.
  appendFileSync(h.config, `SECONDARY_PATH=${join(h.base, 'gone')}\n`);
  h.write('/etc/hosts', '127.0.0.1 localhost\n192.0.2.12 node1\n');
  const r4 = await h.run('run');
  assert.equal(r4.code, 1, r4.stderr);
  const t4 = readFileSync(join(dir, 'proxsave.prom'), 'utf8');
  promtool(t4);
  const s4 = samples(t4);
  assert.equal(s4.get(`proxsave_last_run_exit_code${host}`), 1);
  assert.equal(s4.get(`proxsave_last_run_success${host}`), 0);
  assert.equal(s4.get(`proxsave_target_up{host="node1",target="secondary"}`), 0);
});

test('metrics: an unwritable METRICS_PATH is a warning, the run still exits 0', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  h.write('/blocker', 'a file, not a directory\n');
  appendFileSync(h.config, `METRICS_ENABLED=true\nMETRICS_PATH=${join(h.root, 'blocker', 'proxsave.prom')}\n`);
  const r = await h.run('run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /metrics: cannot write .*proxsave.prom/);
});

test('renderMetrics escapes label values and help text', { skip: !hasPromtool && 'promtool not installed' }, () => {
  const text = renderMetrics([{ name: 'proxsave_x', help: 'a \\ b\nc', type: 'gauge', samples: [{ labels: { host: 'we"ird\\name\n' }, value: 1.5 }] }]);
  assert.match(text, /^proxsave_x\{host="we\\"ird\\\\name\\n"\} 1.5$/m);
  promtool(text);
});
