// Command tasks with misbehaving stubs (real processes): hung commands are
// killed with their whole process group, failures are reported, critical
// failures stop the commit, and the run always completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MISBEHAVING_BIN } from '../helpers/hosts.ts';
import { miniHost } from '../helpers/mini-host.ts';
import { commitCount, git } from '../helpers/git.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';

type Out = { commit: string | null; recap: { ok: number; changed: number; skipped: number; failed: number }; tasks: { name: string; status: string; reason?: string }[] };

function tasksYaml(extra: string): string {
  return `group: system
tasks:
  - name: etc files
    files: [/etc/hostname, /etc/hosts]
${extra}`;
}

function withMisbehaving(h: ReturnType<typeof miniHost>, extraEnv: Record<string, string> = {}) {
  writeConfigPath(h);
  return (...a: string[]) => runCli(['-c', h.config, ...a], { env: cleanEnv(extraEnv) });
}

function writeConfigPath(h: ReturnType<typeof miniHost>): void {
  const text = readFileSync(h.config, 'utf8').replace(/^COMMAND_PATH=(.*)$/m, `COMMAND_PATH="$1 ${MISBEHAVING_BIN}"`);
  writeFileSync(h.config, text);
}

test('a hung command is killed at its timeout with its whole process group; the run completes', async (t) => {
  const h = miniHost({
    tasks: tasksYaml(`  - name: hangs
    command: [hang]
    dest: system/hang.txt
    timeout: 1
`),
  });
  t.after(h.cleanup);
  const pidfile = join(h.base, 'child.pid');
  const run = withMisbehaving(h, { HANG_CHILD_PIDFILE: pidfile });
  const started = Date.now();
  const r = await run('--json', 'snapshot');
  const elapsed = Date.now() - started;
  assert.equal(r.code, 1, 'a non-critical failure exits 1');
  const out = JSON.parse(r.stdout) as Out;
  const hang = out.tasks.find((x) => x.name === 'hangs')!;
  assert.equal(hang.status, 'failed');
  assert.match(hang.reason!, /timed out after 1s/);
  assert.ok(out.commit, 'the other tasks are still committed');
  assert.ok(elapsed < 15_000, `finished in ${elapsed} ms`);
  const child = Number(readFileSync(pidfile, 'utf8'));
  await new Promise((res) => setTimeout(res, 300));
  // Gone, or a zombie waiting for init to reap it: either way no longer running.
  let alive = true;
  try {
    alive = !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, 'utf8'));
  } catch {
    alive = false;
  }
  assert.equal(alive, false, 'the hung command\'s child (same process group) was killed too');
});

test('a failing critical command: exit 9 and no commit; non-critical: exit 1, committed, previous output kept', async (t) => {
  const h = miniHost({
    tasks: tasksYaml(`  - name: version
    command: [uname, -a]
    dest: system/version.txt
    critical: true
`),
  });
  t.after(h.cleanup);
  assert.equal((await h.run('snapshot')).code, 0);
  // Now the critical command starts failing.
  h.stub('uname', 'echo "boom" >&2; exit 3');
  h.write('/etc/hosts', 'changed\n');
  const r = await h.run('--json', 'snapshot');
  assert.equal(r.code, 9, r.stderr);
  const out = JSON.parse(r.stdout) as Out & { critical_failures: string[] };
  assert.equal(out.commit, null);
  assert.deepEqual(out.critical_failures, ['version']);
  assert.match(out.tasks.find((x) => x.name === 'version')!.reason!, /exit code 3: boom/);
  assert.equal(commitCount(h.repo), 1, 'nothing committed');
  assert.equal(git(h.repo, 'status', '--porcelain'), '');

  // The same failure in a non-critical task: committed, exit 1, old output kept.
  const h2 = miniHost({
    tasks: tasksYaml(`  - name: version
    command: [uname, -a]
    dest: system/version.txt
`),
  });
  t.after(h2.cleanup);
  await h2.run('snapshot');
  h2.stub('uname', 'exit 3');
  h2.write('/etc/hosts', 'changed\n');
  const r2 = await h2.run('--json', 'snapshot');
  assert.equal(r2.code, 1);
  assert.ok((JSON.parse(r2.stdout) as Out).commit);
  assert.match(git(h2.repo, 'show', 'HEAD:var/lib/proxsave-info/commands/system/version.txt'), /Linux node1/, 'the previous output is kept, not deleted');
});

test('not installed is skipped, garbage output is stored as is, oversized output fails, slow commands run concurrently', async (t) => {
  const h = miniHost({
    tasks: tasksYaml(`  - name: missing tool
    command: [no-such-command-proxsave, --list]
    dest: system/missing.txt
  - name: garbage
    command: [garbage]
    dest: system/garbage.bin
  - name: big
    command: [bigout]
    dest: system/big.txt
  - name: slow a
    command: [slow, '1']
    dest: system/slow-a.txt
  - name: slow b
    command: [slow, '1']
    dest: system/slow-b.txt
  - name: slow c
    command: [slow, '1']
    dest: system/slow-c.txt
`),
    extraConfig: 'MAX_FILE_SIZE=1M\nCOMMAND_CONCURRENCY=4\n',
  });
  t.after(h.cleanup);
  // Each slow command records when it ran: concurrency is the overlap of the three
  // intervals, which a loaded machine cannot fake (a wall-clock bound could fail).
  const spans = join(h.base, 'slow-spans.txt');
  h.stub('slow', `s=$(date +%s%N); sleep "$1"; echo "$s $(date +%s%N)" >> '${spans}'; echo slept`);
  const run = withMisbehaving(h);
  const r = await run('--json', 'snapshot');
  const out = JSON.parse(r.stdout) as Out;
  const by = Object.fromEntries(out.tasks.map((x) => [x.name, x]));
  assert.equal(by['missing tool']!.status, 'skipped');
  assert.match(by['missing tool']!.reason!, /not installed/);
  assert.equal(by.garbage!.status, 'changed');
  assert.equal(by.big!.status, 'failed');
  assert.match(by.big!.reason!, /larger than the allowed size/);
  const ran = readFileSync(spans, 'utf8').trim().split('\n').map((l) => l.split(' ').map(BigInt) as [bigint, bigint]);
  assert.equal(ran.length, 3);
  const lastStart = ran.reduce((m, [s]) => (s > m ? s : m), 0n);
  const firstEnd = ran.reduce((m, [, e]) => (e < m ? e : m), ran[0]![1]);
  assert.ok(lastStart < firstEnd, 'the three 1 s commands ran at the same time');
  assert.equal(r.code, 1);
  assert.ok(existsSync(join(h.repo, 'var/lib/proxsave-info/commands/system/garbage.bin')));
});

test('a command asked for JSON that prints a truncated document fails and keeps its previous output', async (t) => {
  const h = miniHost({
    tasks: tasksYaml(`  - name: storage
    command: [pvesh, get, /storage, --output-format, json]
    dest: pve/pvesh-storage.txt
`),
  });
  t.after(h.cleanup);
  h.stub('pvesh', `echo '[{"storage":"local","type":"dir"}]'`);
  assert.equal((await h.run('snapshot')).code, 0);
  h.stub('pvesh', `printf '[{"storage":"local","ty'`);
  h.write('/etc/hosts', 'changed\n');
  const r = await h.run('--json', 'snapshot');
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as Out;
  const task = out.tasks.find((x) => x.name === 'storage')!;
  assert.equal(task.status, 'failed');
  assert.match(task.reason!, /output is not valid JSON \(.*\); truncated, or mixed with messages\?/);
  assert.ok(out.commit, 'the rest is committed');
  assert.equal(git(h.repo, 'show', 'HEAD:var/lib/proxsave-info/commands/pve/pvesh-storage.txt'), '[{"storage":"local","type":"dir"}]\n', 'the whole previous document is kept');
  // Empty output is no document either.
  h.stub('pvesh', 'exit 0');
  const e = JSON.parse((await h.run('--json', 'snapshot', '--check')).stdout) as Out;
  assert.match(e.tasks.find((x) => x.name === 'storage')!.reason!, /not valid JSON \(empty\)/);
});
