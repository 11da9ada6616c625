// Notifications after `proxsave run`: a stub sendmail (a real process on
// COMMAND_PATH) records its argv and stdin; webhooks go to a node HTTP server
// on 127.0.0.1. A notification never changes the run's exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { pbsUserEmail, pveUserEmail } from '../../src/notify/recipients.ts';
import { criticalPaths, scrub, shouldNotify, subjectOf, type RunSummary } from '../../src/notify/run-summary.ts';
import { postWebhook, renderWebhook } from '../../src/notify/webhook.ts';
import { KEYS } from '../../src/config/keys.ts';

const TOKEN = 'wh-token-0123456789-SECRET';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function server(respond: (n: number) => { status: number; delayMs?: number }): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const r = respond(seen.length);
      setTimeout(() => {
        res.writeHead(r.status, { 'content-type': 'text/plain' });
        res.end('ok');
      }, r.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

function mailHost(extra: string) {
  const h = miniHost();
  h.write('/etc/pve/user.cfg', 'user:root@pam:1:0:::root%40example.com:::\nuser:joe@pve:1:0:::joe@example.com:::\ntoken:root@pam!ci::0:\n');
  h.stub('sendmail', `n=$(ls ${h.base} | grep -c '^mail-' || true); echo "$*" > ${h.base}/mail-$n.argv; cat > ${h.base}/mail-$n.txt`);
  appendFileSync(h.config, `EMAIL_ENABLED=true\nWEBHOOK_TOKEN=${TOKEN}\n${extra}`);
  const mail = (n: number) => (existsSync(join(h.base, `mail-${n * 2}.txt`)) ? { argv: readFileSync(join(h.base, `mail-${n * 2}.argv`), 'utf8').trim(), text: readFileSync(join(h.base, `mail-${n * 2}.txt`), 'utf8') } : undefined);
  return Object.assign(h, { mail });
}

test('email: first run mails root@pam (from user.cfg) with status, recap, changed and critical paths, targets; an unchanged run mails nothing', async (t) => {
  const h = mailHost('');
  t.after(h.cleanup);
  const r1 = await h.run('run');
  assert.equal(r1.code, 0, r1.stderr);
  const m = h.mail(0);
  assert.ok(m, 'a mail was sent');
  assert.equal(m.argv, '-oi -f proxsave@node1 -- root@example.com');
  const [head, body] = m.text.split('\n\n', 2) as [string, string];
  assert.match(head, /^From: proxsave@node1$/m);
  assert.match(head, /^To: root@example.com$/m);
  assert.match(head, /^Subject: \[proxsave\] node1: OK \(exit 0\); CRITICAL CHANGE: etc\/network\/interfaces, etc\/pve\/storage.cfg, etc\/pve\/user.cfg; \d+ path\(s\) changed$/m);
  assert.match(head, /^Content-Type: text\/plain; charset=utf-8$/m);
  assert.match(body, /^Recap: +ok=3 changed=3 skipped=0 failed=0$/m);
  assert.match(m.text, /^ {2}etc\/hosts$/m);
  assert.match(m.text, /^ {2}local +present \(verified by sha256\)/m);
  assert.doesNotMatch(m.text, /TOPSECRET|wh-token/, 'no secret content, no configured token');

  const r2 = await h.run('run');
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(h.mail(1), undefined, 'NOTIFY_ON=changes,failure: an unchanged, successful run sends nothing');

  // A failing critical task: failure mail, exit code 9 untouched.
  h.write('/etc/hosts', '127.0.0.1 localhost changed\n');
  appendFileSync(join(h.tasks, '10-test.yaml'), '  - name: cluster status\n    command: [pvecm, status]\n    dest: system/pvecm.txt\n    critical: true\n');
  h.stub('pvecm', 'echo "cannot connect to cluster" >&2; exit 2');
  const r3 = await h.run('run');
  assert.equal(r3.code, 9, r3.stderr);
  const m3 = h.mail(1);
  assert.ok(m3);
  assert.match(m3.text, /^Subject: \[proxsave\] node1: FAILED \(exit 9\); no changes$/m);
  assert.match(m3.text, /critical task failed: cluster status/);
});

test('email: a failing or missing sendmail is a warning; the exit code stays 0', async (t) => {
  const h = mailHost('EMAIL_RECIPIENT=ops@example.com, backup@example.com\nNOTIFY_ON=always\n');
  t.after(h.cleanup);
  h.stub('sendmail', 'cat >/dev/null; echo "postdrop: warning: unable to look up public/pickup" >&2; exit 75');
  const r = await h.run('--json', 'run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /notification by email failed: email: sendmail exited 75: postdrop: warning/);
  const doc = JSON.parse(r.stdout) as { exit_code: number; warnings: string[] };
  assert.equal(doc.exit_code, 0);
  assert.ok(doc.warnings.some((w) => w.includes('notification by email failed')));
  // The run report on disk records it too.
  const last = JSON.parse(readFileSync(join(h.base, 'log', 'last-run.json'), 'utf8')) as { warnings: string[] };
  assert.ok(last.warnings.some((w) => w.includes('notification by email failed')));
});

test('webhook (ntfy) from a run: title, priority, bearer token; the token is never in the body', async (t) => {
  const srv = await server(() => ({ status: 200 }));
  t.after(() => srv.close());
  const h = miniHost({ extraConfig: `WEBHOOK_URL=${srv.url}/proxsave-alerts\nWEBHOOK_FORMAT=ntfy\nWEBHOOK_TOKEN=${TOKEN}\n` });
  t.after(h.cleanup);
  const r = await h.run('run');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(srv.seen.length, 1);
  const s = srv.seen[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/proxsave-alerts');
  assert.equal(s.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(String(s.headers.title), /^\[proxsave\] node1: OK \(exit 0\); CRITICAL CHANGE/);
  assert.equal(s.headers.priority, '4');
  assert.match(s.body, /Changed paths \(\d+\):/);
  assert.doesNotMatch(s.body, /wh-token|TOPSECRET/);
  const r2 = await h.run('run');
  assert.equal(r2.code, 0);
  assert.equal(srv.seen.length, 1, 'unchanged run: no webhook');
});

test('webhook: retries 5xx and 429, gives up on 4xx, times out a hung server; errors never show credentials', async (t) => {
  const summary: RunSummary = { host: 'pve1', status: 'ok', exit_code: 0, started_at: '', finished_at: '', duration_ms: 1, commit: 'a'.repeat(40), recap: { ok: 1, changed: 1, skipped: 0, failed: 0 }, failed_tasks: [], changed_paths: ['etc/hosts'], critical_paths: [], archive: null, targets: [], warnings: [], errors: [], notes: [] };
  const flaky = await server((n) => ({ status: n === 1 ? 503 : n === 2 ? 429 : 200 }));
  t.after(() => flaky.close());
  const req = renderWebhook({ format: 'generic', summary, token: TOKEN });
  const ok = await postWebhook({ url: flaky.url, request: req, timeoutMs: 2000, retries: 2, backoffMs: 10 });
  assert.deepEqual(ok, { status: 200, attempts: 3 });
  const generic = JSON.parse(flaky.seen[0]!.body) as { subject: string; changed_paths: string[] };
  assert.equal(generic.subject, subjectOf(summary));
  assert.deepEqual(generic.changed_paths, ['etc/hosts']);

  const refusing = await server(() => ({ status: 403 }));
  t.after(() => refusing.close());
  await assert.rejects(postWebhook({ url: refusing.url.replace('http://', 'http://user:pa55word@'), request: renderWebhook({ format: 'generic', summary }), timeoutMs: 2000, retries: 3, backoffMs: 10 }), (e: Error) => {
    assert.match(e.message, /HTTP 403/);
    assert.doesNotMatch(e.message, /pa55word/);
    return true;
  });
  assert.equal(refusing.seen.length, 1, 'a 4xx is not retried');
  assert.match(String(refusing.seen[0]!.headers.authorization), /^Basic /, 'URL credentials become a header');

  const hung = await server(() => ({ status: 200, delayMs: 3000 }));
  t.after(() => hung.close());
  await assert.rejects(postWebhook({ url: hung.url, request: req, timeoutMs: 200, retries: 1, backoffMs: 10 }), /no answer within 0.2 s/);
  assert.equal(hung.seen.length, 2);

  for (const format of ['slack', 'discord', 'gotify'] as const) {
    const w = renderWebhook({ format, summary, token: TOKEN });
    const doc = JSON.parse(w.body) as Record<string, unknown>;
    assert.ok(!w.body.includes(TOKEN), format);
    if (format === 'slack') assert.match(String(doc.text), /\[proxsave\] pve1: OK/);
    if (format === 'discord') assert.ok(String(doc.content).length <= 2000);
    if (format === 'gotify') assert.deepEqual([w.headers['x-gotify-key'], typeof doc.priority, doc.title], [TOKEN, 'number', subjectOf(summary)]);
  }
});

test('NOTIFY_ON, critical path globs, recipients from PVE and PBS user.cfg, scrubbing', () => {
  const changed = { commit: 'abc', exit_code: 0 };
  const same = { commit: null, exit_code: 0 };
  const failed = { commit: null, exit_code: 6 };
  const table: [string, boolean[]][] = [
    ['always', [true, true, true]],
    ['changes', [true, false, false]],
    ['failure', [false, false, true]],
    ['changes,failure', [true, false, true]],
    ['never', [false, false, false]],
  ];
  for (const [on, want] of table) assert.deepEqual([changed, same, failed].map((s) => shouldNotify(on, s)), want, on);
  assert.equal(KEYS.NOTIFY_ON.default, 'changes,failure');
  const globs = KEYS.NOTIFY_CRITICAL_PATHS.default.split(' ');
  assert.deepEqual(
    criticalPaths(['etc/pve/storage.cfg', 'etc/corosync/corosync.conf', 'etc/pve/corosync.conf', 'etc/network/interfaces', 'etc/network/interfaces.d/vlan', 'etc/pve/user.cfg', 'etc/proxmox-backup/user.cfg', 'etc/pve/nodes/pve1/qemu-server/100.conf', 'etc/pve/nodes/pve1/lxc/200.conf', 'etc/hosts', 'var/lib/proxsave-info/commands/system/df.txt'], globs),
    ['etc/pve/storage.cfg', 'etc/corosync/corosync.conf', 'etc/pve/corosync.conf', 'etc/network/interfaces', 'etc/pve/user.cfg', 'etc/proxmox-backup/user.cfg', 'etc/pve/nodes/pve1/qemu-server/100.conf', 'etc/pve/nodes/pve1/lxc/200.conf'],
  );
  assert.deepEqual(criticalPaths(['etc/pve/qemu-server/100.conf', 'etc/hosts'], ['/etc/pve/qemu-server/']), ['etc/pve/qemu-server/100.conf'], 'a directory glob covers what is below it');
  assert.equal(pveUserEmail('user:joe@pve:1:\nuser:root@pam:1:0:::root@example.com:::\n'), 'root@example.com');
  assert.equal(pveUserEmail('user:root@pam:1:0:::\n'), undefined, 'no address');
  assert.equal(pbsUserEmail('user: john@pbs\n\temail john@example.com\n\nuser: root@pam\n\tcomment Superuser\n\temail test@example.local\n'), 'test@example.local');
  assert.equal(scrub('push to https://bot:tok3n-XYZ@git.example.com/fleet.git failed (tok3n-XYZ)', ['tok3n-XYZ']), 'push to https://***@git.example.com/fleet.git failed (********)');
});

test('EMAIL_DELIVERY=proxmox hands the mail to proxmox-mail-forward; a bad NOTIFY_ON is a config error before anything runs', async (t) => {
  const h = miniHost({ extraConfig: 'EMAIL_ENABLED=true\nEMAIL_DELIVERY=proxmox\nNOTIFY_ON=always\n' });
  t.after(h.cleanup);
  h.stub('proxmox-mail-forward', `cat > ${h.base}/forwarded.txt`);
  const r = await h.run('run');
  assert.equal(r.code, 0, r.stderr);
  const mail = readFileSync(join(h.base, 'forwarded.txt'), 'utf8');
  assert.match(mail, /^Subject: \[proxsave\] node1: OK \(exit 0\)/m);
  assert.match(mail, /^To: $/m, 'no recipient of our own: Proxmox routes it to its configured targets');
  appendFileSync(h.config, 'NOTIFY_ON=sometimes\n');
  const bad = await h.run('run');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /backup\.env:\d+: NOTIFY_ON: "sometimes" is not a valid value \(allowed: always, changes,failure, changes, failure, never/);
});
