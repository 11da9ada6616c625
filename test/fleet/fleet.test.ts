// Fleet history: two hosts push their snapshot history to one remote served by
// the real `git http-backend` on 127.0.0.1; `proxsave fleet` reads it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { miniHost } from '../helpers/mini-host.ts';
import { tempDir } from '../helpers/cli.ts';
import { gitHttpServer } from './git-http-server.ts';

const TOKEN = 'fleet-token-7f3a9c-SECRET';

function bareRemote(dir: string): string {
  const repo = join(dir, 'fleet.git');
  execFileSync('git', ['init', '--bare', '--quiet', repo]);
  execFileSync('git', ['--git-dir', repo, 'config', 'http.receivepack', 'true']);
  return repo;
}

function remoteRefs(repo: string): Record<string, string> {
  const out = execFileSync('git', ['--git-dir', repo, 'for-each-ref', '--format=%(refname) %(objectname)'], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

test('run pushes to hosts/<hostname>; a failed push is a warning and the next run sends the commit; fleet hosts/log/diff read the remote with secrets masked', async (t) => {
  const srv = tempDir('proxsave-fleet-');
  t.after(srv.cleanup);
  const repo = bareRemote(srv.path);
  const server = await gitHttpServer({ projectRoot: srv.path, token: TOKEN });
  t.after(() => server.close());
  const remote = `${server.url}/fleet.git`;

  const a = miniHost({ extraConfig: `SNAPSHOT_REMOTE=${remote}\nSNAPSHOT_REMOTE_USER=ci\nSNAPSHOT_REMOTE_TOKEN=wrong-token-000\n` });
  t.after(a.cleanup);
  const b = miniHost({ extraConfig: `SNAPSHOT_REMOTE=${remote}\nSNAPSHOT_REMOTE_TOKEN=${TOKEN}\nFLEET_CACHE_PATH=${join(srv.path, 'cache-b')}\n` });
  t.after(b.cleanup);
  b.write('/etc/hostname', 'node2\n');
  b.write('/etc/network/interfaces', 'auto lo\niface lo inet loopback\n\nauto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.12/24\n');
  b.write('/etc/pve/priv/authkey.key', '-----BEGIN PRIVATE KEY-----\nOTHER-SECRET-KEY\n-----END PRIVATE KEY-----\n', 0o600);

  // Host a has the wrong token: the run succeeds, the push is a warning without the token.
  const ra = await a.run('--json', 'run');
  assert.equal(ra.code, 0, ra.stderr);
  assert.match(ra.stderr, /fleet: push to SNAPSHOT_REMOTE failed, retried next run/);
  assert.doesNotMatch(ra.stderr + ra.stdout, /wrong-token-000/);
  assert.deepEqual(remoteRefs(repo), {});
  const headA = execFileSync('git', ['-C', a.repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();

  // Host b pushes (bearer token).
  const rb = await b.run('run');
  assert.equal(rb.code, 0, rb.stderr);
  const headB = execFileSync('git', ['-C', b.repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  assert.deepEqual(remoteRefs(repo), { 'refs/heads/hosts/node2': headB });

  // Token fixed; host a unchanged: nothing new is committed, yet the commit that failed to go is sent now.
  appendFileSync(a.config, `SNAPSHOT_REMOTE_TOKEN=${TOKEN}\n`);
  const ra2 = await a.run('run');
  assert.equal(ra2.code, 0, ra2.stderr);
  assert.equal(execFileSync('git', ['-C', a.repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(), headA, 'no new commit');
  assert.deepEqual(remoteRefs(repo), { 'refs/heads/hosts/node1': headA, 'refs/heads/hosts/node2': headB });
  execFileSync('git', ['--git-dir', repo, 'fsck', '--strict', '--no-progress'], { stdio: 'pipe' });
  assert.ok(server.requests.some((r) => r.path.endsWith('git-receive-pack') && r.status === 200 && r.auth?.startsWith('Basic ')), 'basic auth with SNAPSHOT_REMOTE_USER');

  // A change on a: pushed as a fast-forward.
  a.write('/etc/hosts', '127.0.0.1 localhost\n192.0.2.10 node1.example.com node1 pve1\n');
  assert.equal((await a.run('run')).code, 0);
  const headA2 = execFileSync('git', ['-C', a.repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  assert.equal(remoteRefs(repo)['refs/heads/hosts/node1'], headA2);

  // Reading the fleet from b.
  const hosts = await b.run('--json', 'fleet', 'hosts');
  assert.equal(hosts.code, 0, hosts.stderr);
  assert.deepEqual((JSON.parse(hosts.stdout) as { hosts: { host: string; commit: string }[] }).hosts.map((h) => [h.host, h.commit]), [['node1', headA2], ['node2', headB]]);
  assert.equal(statSync(join(srv.path, 'cache-b')).mode & 0o777, 0o700, 'the cache holds secrets: private');

  const log = await b.run('--json', 'fleet', 'log');
  assert.equal(log.code, 0, log.stderr);
  const commits = (JSON.parse(log.stdout) as { commits: { host: string; commit: string }[] }).commits;
  assert.deepEqual(commits.map((c) => c.commit).sort(), [headA, headA2, headB].sort());
  assert.equal(commits.find((c) => c.commit === headA2)!.host, 'node1');
  const logA = await b.run('--json', 'fleet', 'log', 'node1', '-n', '1');
  assert.deepEqual((JSON.parse(logA.stdout) as { commits: { commit: string }[] }).commits.map((c) => c.commit), [headA2]);

  const d = await b.run('fleet', 'diff', 'node1', 'node2', '/etc/network/interfaces', '--exit-code');
  assert.equal(d.code, 1, d.stderr);
  assert.match(d.stdout, /^diff --git a\/etc\/network\/interfaces b\/etc\/network\/interfaces$/m);
  assert.match(d.stdout, /^\+\taddress 192\.0\.2\.12\/24$/m);
  const all = await b.run('fleet', 'diff', 'node1', 'node2');
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^diff --proxsave a\/etc\/pve\/priv\/authkey.key b\/etc\/pve\/priv\/authkey.key\n\(secret: contents differ, masked\)$/m);
  assert.match(all.stdout, /^-node1$/m);
  assert.doesNotMatch(all.stdout, /TOPSECRET|OTHER-SECRET/);
  const same = await b.run('fleet', 'diff', 'node1', 'node2', 'etc/pve/storage.cfg', '--exit-code');
  assert.equal(same.code, 0);
  assert.match(same.stdout, /no differences/);
  const missing = await b.run('fleet', 'diff', 'node1', 'node9');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no host "node9".*\n.*hosts: node1, node2/);
});

test('a remote branch with commits the host does not have: the push is refused (never forced), the run still exits 0', async (t) => {
  const srv = tempDir('proxsave-fleet-');
  t.after(srv.cleanup);
  const repo = bareRemote(srv.path);
  const server = await gitHttpServer({ projectRoot: srv.path });
  t.after(() => server.close());
  const h = miniHost({ extraConfig: `SNAPSHOT_REMOTE=${server.url}/fleet.git\n` });
  t.after(h.cleanup);
  // Someone else's history already sits on hosts/node1.
  const other = join(srv.path, 'other');
  execFileSync('git', ['init', '--quiet', '-b', 'main', other]);
  writeFileSync(join(other, 'x'), 'x\n');
  execFileSync('git', ['-C', other, 'add', 'x']);
  execFileSync('git', ['-C', other, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '--quiet', '-m', 'x']);
  execFileSync('git', ['-C', other, 'push', '--quiet', repo, 'main:refs/heads/hosts/node1']);
  const before = remoteRefs(repo);
  const r = await h.run('run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /rejected: the remote branch has commits this repository does not/);
  assert.deepEqual(remoteRefs(repo), before, 'the remote keeps its commits');
  assert.ok(readFileSync(join(h.base, 'log', 'last-run.json'), 'utf8').includes('fleet: push to SNAPSHOT_REMOTE failed'));
});
