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
