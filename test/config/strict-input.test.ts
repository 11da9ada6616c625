// Bad input is refused at load, with file:line, before anything is written:
// unset ${VAR} in backup.env, task destinations outside the snapshot tree,
// YAML syntax errors and YAML built to exhaust memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from '../../src/config/parse-env.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { miniHost } from '../helpers/mini-host.ts';

test('parseEnv: ${VAR} and $VAR of an unset variable are errors with the line and key; defaults are accepted', () => {
  const text = ['A=1', 'B=${A}/x', 'C=${NOPE}/repo', 'D=$ALSO_NOPE', 'E=${NOPE:-/var/lib/x}', 'F=${NOPE-fallback}', 'G="${NOPE}"', "H='${NOPE}'"].join('\n');
  const { entries, problems } = parseEnv(text, 'b.env', (n) => (n === 'HOME' ? '/root' : undefined));
  const m = Object.fromEntries(entries.map((e) => [e.key, e.value]));
  assert.equal(m.B, '1/x');
  assert.equal(m.E, '/var/lib/x');
  assert.equal(m.F, 'fallback');
  assert.equal(m.H, '${NOPE}', 'single quotes stay literal');
  assert.deepEqual(
    problems.map((p) => `${p.line}:${p.key}`),
    ['3:C', '4:D', '7:G'],
  );
  assert.match(problems[0]!.message, /\$\{NOPE\} is not set/);
  assert.ok(!('C' in m) && !('D' in m), 'no value is taken from a failed expansion');
});

test('CLI: an unset ${VAR} in SNAPSHOT_PATH is exit 2 naming file:line and key; no repository at a stray path', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  writeFileSync(h.config, `${(await import('node:fs')).readFileSync(h.config, 'utf8')}SNAPSHOT_PATH=\${UNDEFINED_BASE}/snapshots\n`);
  const line = (await import('node:fs')).readFileSync(h.config, 'utf8').trimEnd().split('\n').length;
  const before = readdirSync(h.base).sort();
  const r = await h.run('snapshot');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`backup\\.env:${line}: SNAPSHOT_PATH: \\$\\{UNDEFINED_BASE\\} is not set`));
  assert.deepEqual(readdirSync(h.base).sort(), before, 'nothing written');
  assert.equal(existsSync('/snapshots'), false);

  const ok = await runCli(['-c', h.config, 'snapshot'], { env: cleanEnv({ UNDEFINED_BASE: join(h.base, 'from-env') }) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(existsSync(join(h.base, 'from-env', 'snapshots', '.git')));
});

const BAD_DESTS: [string, RegExp][] = [
  ['  - name: db up\n    sqlite: /var/lib/app/app.db\n    dest: ../../outside.db\n', /no \.\. components|must not contain \.\. components/],
  ['  - name: db hook\n    sqlite: /var/lib/app/app.db\n    dest: .git/hooks/post-commit\n', /must not write into \.git/],
  ['  - name: db nested git\n    sqlite: /var/lib/app/app.db\n    dest: var/.GIT/config\n', /must not write into \.git/],
  ['  - name: db meta\n    sqlite: /var/lib/app/app.db\n    dest: .proxsave/metadata\n', /must not write into \.proxsave/],
  ['  - name: db abs\n    sqlite: /var/lib/app/app.db\n    dest: /etc/passwd\n', /must be a relative path/],
  ['  - name: db via path\n    sqlite: /var/lib/../../.git/hooks/x.db\n', /sqlite: .*\.\. components/],
  ['  - name: cmd up\n    command: [uname]\n    dest: system/../../../../.git/hooks/pre-commit\n', /must not contain \.\. components/],
];

test('every task dest (command and sqlite) is validated at load: exit 2 with file:line, nothing written', async (t) => {
  for (const [task, why] of BAD_DESTS) {
    const h = miniHost({ tasks: `tasks:\n  - name: ok\n    files: [/etc/hostname]\n${task}` });
    t.after(h.cleanup);
    const r = await h.run('snapshot');
    assert.equal(r.code, 2, `${task}: ${r.stderr}`);
    assert.match(r.stderr, /10-test\.yaml:[4-6]: task "[^"]+": /, task);
    assert.match(r.stderr, why, task);
    assert.equal(existsSync(h.repo), false, 'no repository written');
  }
});

test('a YAML syntax error names file:line:column', async (t) => {
  const h = miniHost({ tasks: 'tasks:\n  - name: ok\n    files: [/etc/hostname\n  - name: two\n    files: [/etc/hosts]\n' });
  t.after(h.cleanup);
  const r = await h.run('tasks');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /10-test\.yaml:\d+:\d+: YAML syntax error: /);
  assert.doesNotMatch(r.stderr, /internal error/);
});

test('a YAML alias bomb is exit 2 with the file name, not an internal error or memory exhaustion', async (t) => {
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill('*' + String.fromCharCode(96 + i)).join(', ')}]`);
  const h = miniHost({ tasks: `${levels.join('\n')}\ntasks: [*i]\n` });
  t.after(h.cleanup);
  const started = Date.now();
  const r = await h.run('snapshot');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /10-test\.yaml: refused: .*resource exhaustion/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.ok(Date.now() - started < 20_000);
  assert.equal(existsSync(h.repo), false);
});
