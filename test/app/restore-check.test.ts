// restore --check, --diff-live and verify --target on an example host.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { hostWithWorkDir } from '../helpers/hosts.ts';
import { cleanEnv } from '../helpers/cli.ts';
import { cli } from '../helpers/in-process.ts';
import { guestReferences } from '../../src/app/restore-check.ts';
import { rcloneAvailable, startWebdav, type WebdavServer } from '../storage/helpers.ts';

let server: WebdavServer | undefined;
after(async () => {
  await server?.stop();
});

async function setup(t: { after(fn: () => unknown): void }, extra: string[] = [], env: Record<string, string> = {}) {
  const { host, work } = await hostWithWorkDir(t, 'pve-standalone');
  const w = (p: string) => path.join(work.path, p);
  const config = w('backup.env');
  fs.writeFileSync(config, [`SYSTEM_ROOT_PREFIX=${host.root}`, `SNAPSHOT_PATH=${w('repo')}`, `COMMAND_PATH=${host.bin}`, `BACKUP_PATH=${w('local')}`, `LOCK_PATH=${w('lock')}`, `LOG_PATH=${w('log')}`, 'MIN_DISK_SPACE_PRIMARY_GB=0', 'MIN_DISK_SPACE_CLOUD_GB=0', ...extra, ''].join('\n'));
  const run = (...a: string[]) => cli(['-c', config, ...a], cleanEnv(env));
  const r = (p: string) => path.join(host.root, p);
  return { host, w, run, r };
}

test('guestReferences: bridges and storages of the current config only', () => {
  const refs = guestReferences(
    ['net0: virtio=AA:BB,bridge=vmbr1,firewall=1', 'scsi0: local-lvm:vm-100-disk-0,size=32G', 'ide2: none,media=cdrom', 'ide0: local:iso/debian.iso,media=cdrom', 'mp0: tank:subvol-1-disk-1,mp=/data', 'mp1: /host/dir,mp=/mnt', 'scsihw: virtio-scsi-single', 'unused0: ceph:vm-100-disk-9', '', '[snap1]', 'scsi0: oldstore:vm-100-disk-0'].join('\n'),
  );
  assert.deepEqual([...refs.bridges], ['vmbr1']);
  assert.deepEqual([...refs.storages].sort(), ['ceph', 'local', 'local-lvm', 'tank']);
});

test('--check: guests whose bridge or storage this host lacks are blocking findings; --json lists them', async (t) => {
  const { run, r } = await setup(t);
  fs.writeFileSync(r('etc/pve/nodes/pve1/lxc/2002.conf'), 'arch: amd64\nhostname: ct2\nnet0: name=eth0,bridge=vmbr1,ip=dhcp,type=veth\nrootfs: local:2002/vm-2002-disk-0.raw,size=8G\nmp0: tank:subvol-2002-disk-1,mp=/data\nmp1: /srv/share,mp=/share\n');
  assert.equal((await run('snapshot', '-q')).code, 0);
  const ok = await run('--json', 'restore', '--rev', 'HEAD', '--check');
  const o = JSON.parse(ok.stdout) as { findings: { level: string; check: string; message: string }[] };
  assert.ok(o.findings.some((f) => f.check === 'hostname' && f.level === 'ok'));
  assert.ok(o.findings.some((f) => f.check === 'role' && f.level === 'ok'));
  const blocks = o.findings.filter((f) => f.level === 'block').map((f) => f.message);
  assert.deepEqual(blocks.sort(), ['CT 2002 uses bridge vmbr1, which /etc/network/interfaces does not define', 'CT 2002 uses storage tank, which /etc/pve/storage.cfg does not define']);
  assert.equal(ok.code, 1, 'blocking findings exit 1');

  // This host loses vmbr0 and local-lvm, which every guest of the archive uses.
  fs.writeFileSync(r('etc/network/interfaces'), fs.readFileSync(r('etc/network/interfaces'), 'utf8').replaceAll('vmbr0', 'vmbr7'));
  fs.writeFileSync(r('etc/pve/storage.cfg'), 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n');
  const res = await run('restore', '--rev', 'HEAD', '--check', '--paths', '/etc/pve/nodes/pve1/qemu-server/1001.conf');
  assert.equal(res.code, 1);
  assert.match(res.stdout, /^block +bridge +VM 1001 uses bridge vmbr0, which \/etc\/network\/interfaces does not define$/m);
  assert.match(res.stdout, /^block +storage +VM 1001 uses storage local-lvm, which \/etc\/pve\/storage.cfg does not define$/m);
  assert.doesNotMatch(res.stdout, /CT 2002|VM 1002/, '--paths limits the guests checked');
  assert.match(res.stdout, /^ok +hostname/m);
});

test('--diff-live: content, mode, owner, missing and extra; secrets masked unless --show-secrets; --exit-code', async (t) => {
  const { run, r } = await setup(t);
  assert.equal((await run('snapshot', '-q')).code, 0);
  const clean = await run('restore', '--rev', 'HEAD', '--diff-live', '--exit-code');
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, /no differences/);
  fs.writeFileSync(r('etc/hosts'), 'changed hosts\n');
  fs.chmodSync(r('etc/network/interfaces'), 0o600);
  fs.chownSync(r('etc/vzdump.conf'), 1234, 1234);
  fs.rmSync(r('etc/network/interfaces.new'));
  fs.writeFileSync(r('etc/network/surprise'), 'extra\n');
  fs.writeFileSync(r('etc/pve/priv/authkey.key'), 'NEW-SECRET-KEY\n');
  const res = await run('--json', 'restore', '--rev', 'HEAD', '--diff-live', '--exit-code');
  assert.equal(res.code, 1);
  const d = (JSON.parse(res.stdout) as { differences: { path: string; kind: string; patch?: string }[] }).differences;
  const kinds = (p: string) => d.filter((x) => x.path === p).map((x) => x.kind);
  assert.deepEqual(kinds('/etc/hosts'), ['content']);
  assert.match(d.find((x) => x.path === '/etc/hosts')!.patch!, /^\+changed hosts$/m);
  assert.deepEqual(kinds('/etc/network/interfaces'), ['mode']);
  assert.deepEqual(kinds('/etc/vzdump.conf'), ['owner']);
  assert.deepEqual(kinds('/etc/network/interfaces.new'), ['missing']);
  assert.deepEqual(kinds('/etc/network/surprise'), ['extra']);
  const secret = d.find((x) => x.path === '/etc/pve/priv/authkey.key')!;
  assert.match(secret.patch!, /secret content masked/);
  assert.doesNotMatch(res.stdout, /NEW-SECRET-KEY/);
  const shown = await run('restore', '--rev', 'HEAD', '--diff-live', '--show-secrets', '--paths', '/etc/pve/priv');
  assert.equal(shown.code, 0);
  assert.match(shown.stdout, /\+NEW-SECRET-KEY/);
});

test('verify --target: in place on a directory target, by hashsum or download on the cloud; damage exits 8', async (t) => {
  if (rcloneAvailable) server ??= await startWebdav();
  const davEnv = server ? (Object.fromEntries(Object.entries(server.env).filter(([k]) => k.startsWith('RCLONE_'))) as Record<string, string>) : {};
  for (const [k, v] of Object.entries(davEnv)) process.env[k] = v;
  const { w, run } = await setup(t, server ? ['CLOUD_ENABLED=true', 'CLOUD_REMOTE=dav', 'CLOUD_REMOTE_PATH=verify', 'RCLONE_RETRIES=0'] : [], davEnv);
  const r1 = await run('run', '-q');
  assert.equal(r1.code, 0, r1.stderr);
  const ok = await run('verify', '--target', 'local', '--all');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok +pve1-backup-\d{8}-\d{6}\.tar\.zst +\(full\)$/m);
  const name = fs.readdirSync(w('local')).find((f) => f.endsWith('.tar.zst'))!;
  const a = path.join(w('local'), name);
  const bytes = fs.readFileSync(a);
  bytes[bytes.length >> 1]! ^= 0xff;
  fs.writeFileSync(a, bytes);
  const bad = await run('verify', '--target', 'local', name);
  assert.equal(bad.code, 8);
  assert.match(bad.stdout, /FAILED/);
  assert.equal((await run('verify', a)).code, 8, 'verify ARCHIVE still works');
  if (!server) return;
  const cloud = await run('verify', '--target', 'cloud', '--all');
  assert.equal(cloud.code, 0, cloud.stdout + cloud.stderr);
  const full = await run('--json', 'verify', '--target', 'cloud', '--all', '--download');
  assert.equal(full.code, 0, full.stdout + full.stderr);
  assert.equal((JSON.parse(full.stdout) as { archives: { method: string }[] }).archives[0]!.method, 'download');
  const remote = path.join(server.dir, 'verify', name);
  const rb = fs.readFileSync(remote);
  rb[100]! ^= 0xff;
  fs.writeFileSync(remote, rb);
  const damaged = await run('verify', '--target', 'cloud', '--all', '--download');
  assert.equal(damaged.code, 8, damaged.stdout);
});
