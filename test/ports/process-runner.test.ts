import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProcessRunner } from '../../src/ports/process-runner.ts';

test('commands see the sbin directories even under cron\'s PATH, COMMAND_PATH first', async () => {
  const runner = createProcessRunner({ pathPrefix: ['/opt/stubs'], env: { PATH: '/usr/bin:/bin' } });
  const r = await runner.run(['sh', '-c', 'echo "$PATH"; echo "$LC_ALL"'], { timeoutMs: 5000 });
  assert.equal(r.exitCode, 0);
  const [path, locale] = r.stdout.toString().trim().split('\n');
  const dirs = path!.split(':');
  assert.equal(dirs[0], '/opt/stubs');
  for (const d of ['/usr/sbin', '/sbin', '/usr/local/sbin']) assert.ok(dirs.includes(d), `${d} in ${path}`);
  assert.equal(locale, 'C.UTF-8', 'stable, untranslated output');
});

test('a command that leaves a daemon of its own session holding stdout is done when it exits; a timeout stays an upper bound', async () => {
  const runner = createProcessRunner({ killGraceMs: 500 });
  // setsid: a new session, out of reach of the process-group kill.
  const daemon = 'setsid sleep 60 & echo out; echo err >&2';
  let started = Date.now();
  const done = await runner.run(['sh', '-c', `${daemon}; exit 3`], { timeoutMs: 30_000 });
  assert.ok(Date.now() - started < 5000, `returned after ${Date.now() - started} ms`);
  assert.equal(done.exitCode, 3);
  assert.equal(done.timedOut, false);
  assert.equal(done.stdout.toString(), 'out\n');
  assert.equal(done.stderr, 'err\n');
  started = Date.now();
  const hung = await runner.run(['sh', '-c', `${daemon}; sleep 60`], { timeoutMs: 500 });
  assert.ok(Date.now() - started < 5000, `returned after ${Date.now() - started} ms`);
  assert.equal(hung.timedOut, true);
  assert.equal(hung.stdout.toString(), 'out\n');
});
