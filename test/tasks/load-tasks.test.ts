import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTaskFile } from '../../src/tasks/load-tasks.ts';
import { parseCondition, evaluate } from '../../src/tasks/condition.ts';
import { globToRegExp, matchesAny } from '../../src/util/glob.ts';
import { knownConditionNames } from '../../src/app/context.ts';
import type { Problem } from '../../src/core/errors.ts';
import { miniHost } from '../helpers/mini-host.ts';

const known = knownConditionNames();

function problemsOf(text: string): Problem[] {
  const problems: Problem[] = [];
  loadTaskFile('t.yaml', text, known, problems);
  return problems;
}

test('task files: every problem names file, line, task and field', () => {
  const p = problemsOf(`tasks:
  - name: ok task
    files: [/etc/hosts]
  - name: two modules
    files: [/etc/x]
    command: [ls]
    dest: x.txt
  - name: bad field
    files: [/etc/x]
    colour: blue
  - name: relative path
    files: [etc/x]
  - name: bad when
    files: [/etc/x]
    when: pve and clusterd
  - name: bad toggle
    files: [/etc/x]
    toggle: BACKUP_NOTHING
  - name: bad dest
    command: [ls]
    dest: ../../etc/passwd
  - name: ok task
    files: [/etc/y]
  - name: zero size
    files: [/etc/z]
    max_size: 0
  - name: zero K
    files: [/etc/z]
    max_size: 0K
  - name: one byte
    files: [/etc/z]
    max_size: 1
`);
  const text = p.map((x) => `${x.line}: ${x.message}`);
  const has = (re: RegExp) => assert.ok(text.some((t) => re.test(t)), `${re} in\n${text.join('\n')}`);
  has(/^4: task "two modules": needs exactly one module key .* found files and command/);
  has(/^10: task "bad field": unknown field colour/);
  has(/^12: task "relative path": files\.0: an absolute host path/);
  has(/^15: task "bad when": when: unknown name "clusterd"/);
  has(/^18: task "bad toggle": toggle:/);
  has(/^21: task "bad dest": dest:/);
  has(/^22: task "ok task": duplicate name \(first defined at t\.yaml:2\)/);
  has(/^26: task "zero size": max_size: a size of at least 1 byte/);
  has(/^29: task "zero K": max_size: a size of at least 1 byte/);
  assert.ok(!text.some((t) => t.includes('"one byte"')), text.join('\n'));
});

test('task files: YAML syntax errors and bad regexes are located', () => {
  assert.match(problemsOf('tasks:\n  - name: x\n    files: [/etc\n')[0]!.message, /./);
  const p = problemsOf('tasks:\n  - name: re\n    command: [ls]\n    dest: a.txt\n    drop_lines: ["(unclosed"]\n');
  assert.match(p[0]!.message, /invalid regular expression/);
  const g = problemsOf('tasks:\n  - name: globs\n    files: ["/etc/{pve"]\n    exclude: ["/etc/[z-a]"]\n').map((x) => `${x.line}: ${x.message}`);
  assert.ok(g.some((t) => t.startsWith('3: task "globs": files.0: malformed glob: a { is not closed')), g.join('\n'));
  assert.ok(g.some((t) => t.startsWith('4: task "globs": exclude.0: malformed glob: the range z-a')), g.join('\n'));
});

test('conditions and globs', () => {
  const e = parseCondition('pve and (clustered or not zfs)', known);
  assert.equal(evaluate(e, (n) => ({ pve: true, clustered: false, zfs: false })[n] ?? false), true);
  assert.equal(evaluate(e, (n) => ({ pve: true, clustered: false, zfs: true })[n] ?? false), false);
  assert.throws(() => parseCondition('pve and', known), /unexpected end/);
  assert.ok(globToRegExp('/etc/pve/nodes/*/qemu-server/*.conf').test('/etc/pve/nodes/due/qemu-server/100.conf'));
  assert.ok(!globToRegExp('/etc/pve/nodes/*/qemu-server/*.conf').test('/etc/pve/nodes/due/x/qemu-server/100.conf'));
  assert.ok(globToRegExp('/etc/pve/priv/**').test('/etc/pve/priv/storage/pbs.pw'));
  assert.ok(globToRegExp('/etc/**/*.{key,pem}').test('/etc/ssl/private/a.key'));
  assert.ok(matchesAny('/etc/proxmox-backup/.datastore.lck', ['/etc/proxmox-backup/.*.lck']));
});

test('a broken task file stops every command with exit 2 before anything is written', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  writeFileSync(join(h.tasks, '20-broken.yaml'), 'tasks:\n  - name: broken\n    files: /etc/hosts\n');
  const r = await h.run('snapshot');
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${join(h.tasks, '20-broken.yaml')}:3: task "broken": files:`));
  assert.equal(existsSync(h.repo), false);
  assert.equal((await h.run('tasks')).code, 2);
});
