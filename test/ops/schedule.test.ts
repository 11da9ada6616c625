// `proxsave schedule`: units written where SYSTEMD_UNIT_DIR says, checked by
// the real systemd-analyze, enabled through a stub systemctl that records
// its argv (a real process on COMMAND_PATH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost, type MiniHost } from '../helpers/mini-host.ts';

const hasAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function scheduledHost(extra = ''): MiniHost & { units: string; calls: () => string[] } {
  const h = miniHost();
  const units = join(h.base, 'units');
  mkdirSync(units);
  h.stub('systemctl', `echo "$*" >> ${h.base}/systemctl.log\ncase "$1" in is-enabled) echo enabled;; is-active) echo active;; show) echo NextElapseUSecRealtime=Thu 2026-12-03 08:00:00 UTC; echo LastTriggerUSec=n/a;; esac`);
  appendFileSync(h.config, `SYSTEMD_UNIT_DIR=${units}\n${extra}`);
  const calls = () => (existsSync(join(h.base, 'systemctl.log')) ? readFileSync(join(h.base, 'systemctl.log'), 'utf8').trim().split('\n') : []);
  return Object.assign(h, { units, calls });
}

test('schedule install writes a hardened service and an hourly timer, verifies them and enables the timer', async (t) => {
  const h = scheduledHost(`SECONDARY_ENABLED=true\nSECONDARY_PATH=/mnt/nfs/proxsave\nMETRICS_ENABLED=true\nMETRICS_PATH=/var/lib/prometheus/node-exporter/proxsave.prom\n`);
  t.after(h.cleanup);
  const r = await h.run('schedule', 'install');
  assert.equal(r.code, 0, r.stderr);
  const service = readFileSync(join(h.units, 'proxsave.service'), 'utf8');
  const timer = readFileSync(join(h.units, 'proxsave.timer'), 'utf8');
  assert.match(service, /^Type=oneshot$/m);
  assert.match(service, new RegExp(`^ExecStart=\\S+/proxsave -c ${h.config} run --quiet$`, 'm'));
  for (const line of ['ProtectSystem=strict', 'PrivateTmp=yes', 'Nice=10', 'IOSchedulingClass=idle', 'NoNewPrivileges=yes', 'ProtectHome=read-only', 'SuccessExitStatus=16'])
    assert.match(service, new RegExp(`^${line}$`, 'm'), line);
  const rw = [...service.matchAll(/^ReadWritePaths=-(.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(rw, [h.repo, join(h.base, 'backups'), join(h.base, 'log'), join(h.base, 'lock'), '/mnt/nfs/proxsave', '/var/lib/prometheus/node-exporter']);
  assert.match(timer, /^OnCalendar=hourly$/m);
  assert.match(timer, /^RandomizedDelaySec=600$/m);
  assert.match(timer, /^Persistent=true$/m);
  assert.match(timer, /^WantedBy=timers.target$/m);
  assert.deepEqual(h.calls(), ['daemon-reload', 'enable --now proxsave.timer']);
  // Under ProtectSystem=strict the job cannot create its own directories: install does.
  for (const d of [h.repo, join(h.base, 'backups'), join(h.base, 'log')]) assert.ok(existsSync(d), d);
  if (hasAnalyze) assert.match(r.stdout, /systemd-analyze verify: ok/);
  assert.deepEqual(readdirSync(h.units).sort(), ['proxsave.service', 'proxsave.timer'], 'no scratch files left');

  const s = await h.run('--json', 'schedule', 'status');
  assert.equal(s.code, 0, s.stderr);
  const st = JSON.parse(s.stdout) as { installed: boolean; onCalendar: string; enabled: string; active: string; nextRun: string };
  assert.deepEqual([st.installed, st.onCalendar, st.enabled, st.active, st.nextRun], [true, 'hourly', 'enabled', 'active', 'Thu 2026-12-03 08:00:00 UTC']);

  const rm = await h.run('schedule', 'remove');
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(readdirSync(h.units), []);
  assert.deepEqual(h.calls().slice(-2), ['disable --now proxsave.timer', 'daemon-reload']);
});

test('schedule install --on-calendar: a spec systemd rejects writes and enables nothing (exit 2)', { skip: !hasAnalyze && 'systemd-analyze not installed' }, async (t) => {
  const h = scheduledHost();
  t.after(h.cleanup);
  const bad = await h.run('schedule', 'install', '--on-calendar', 'every other tuesday');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /systemd rejects the units: .*calendar/);
  assert.deepEqual(readdirSync(h.units), []);
  assert.deepEqual(h.calls(), []);
  const good = await h.run('schedule', 'install', '--on-calendar', '*-*-* 02:30:00', '--no-enable');
  assert.equal(good.code, 0, good.stderr);
  assert.match(readFileSync(join(h.units, 'proxsave.timer'), 'utf8'), /^OnCalendar=\*-\*-\* 02:30:00$/m);
  assert.deepEqual(h.calls(), [], '--no-enable');
});

test('schedule --cron prints a cron.d line; a failing systemctl is an error with a hint', async (t) => {
  const h = scheduledHost();
  t.after(h.cleanup);
  const c = await h.run('schedule', '--cron');
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, new RegExp(`^\\d{1,2} \\* \\* \\* \\*  root  \\S+/proxsave -c ${h.config} run --quiet$`, 'm'));
  assert.match(c.stdout, /^PATH=.*\/usr\/sbin/m);
  h.stub('systemctl', 'echo "Failed to connect to bus: No such file or directory" >&2; exit 1');
  const r = await h.run('schedule', 'install');
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /systemctl daemon-reload exited 1: Failed to connect to bus/);
  assert.match(r.stderr, /hint: the units are in/);
  const none = await h.run('schedule', 'frobnicate');
  assert.equal(none.code, 2);
});
