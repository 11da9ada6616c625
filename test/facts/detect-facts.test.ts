// Facts from files alone, on small roots written here: role from strong
// markers only (an installed package or the product's binaries), never from
// a leftover directory or an apt source; cluster, storage and tape facts;
// node name and FQDN; accounts as the host (not this machine) knows them.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { loadAccounts, parseIdFile } from '../../src/facts/accounts.ts';
import { detectFacts, parseCorosync, parseDpkgStatus, storageTypes } from '../../src/facts/detect-facts.ts';
import { HostRoot } from '../../src/ports/host-root.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function root(t: { after(fn: () => void): void }, files: Record<string, string>): HostRoot {
  const d = tempDir('proxsave-facts-');
  t.after(d.cleanup);
  for (const [p, content] of Object.entries(files)) {
    const real = join(d.path, p);
    mkdirSync(dirname(real), { recursive: true });
    writeFileSync(real, content);
  }
  return new HostRoot(d.path);
}

const dpkg = (...pkgs: [name: string, status: string, version: string][]) =>
  pkgs.map(([n, s, v]) => `Package: ${n}\nStatus: ${s}\nPriority: optional\nVersion: ${v}\nDescription: x\n multi-line\n`).join('\n');

const COROSYNC = `totem {
  cluster_name: homelab
  version: 2
}

nodelist {
  node {
    name: uno
    nodeid: 1
    ring0_addr: 10.0.0.1
  }
  node {
    name: due
    nodeid: 2
    ring0_addr: 10.0.0.2
  }
}
`;

test('parsers: dpkg stanzas, corosync nodelist, storage.cfg section types', () => {
  const pkgs = parseDpkgStatus(dpkg(['pve-manager', 'install ok installed', '9.0.3'], ['proxmox-backup-server', 'deinstall ok config-files', '4.0.1']));
  assert.deepEqual(pkgs.get('pve-manager'), { status: 'install ok installed', version: '9.0.3' });
  assert.equal(pkgs.get('proxmox-backup-server')?.status, 'deinstall ok config-files');
  assert.deepEqual(parseCorosync(COROSYNC), { clusterName: 'homelab', nodes: ['uno', 'due'] });
  assert.deepEqual(parseCorosync('totem {\n  cluster_name: lonely\n}\n'), { clusterName: 'lonely', nodes: [] });
  const types = storageTypes('dir: local\n\tpath /var/lib/vz\n\nzfspool: local-zfs\n\tpool rpool/data\n\nrbd: ceph-vm\n\tpool vm\n');
  assert.deepEqual([...types].sort(), ['dir', 'rbd', 'zfspool']);
});

test('role: an installed package or both binaries decide; removed packages and leftover directories do not', (t) => {
  const pve = detectFacts(root(t, { 'var/lib/dpkg/status': dpkg(['pve-manager', 'install ok installed', '9.0.3']) }));
  assert.deepEqual([pve.role, pve.pve, pve.pbs, pve.pve_version], ['pve', true, false, '9.0.3']);

  const removed = detectFacts(
    root(t, {
      'var/lib/dpkg/status': dpkg(['proxmox-backup-server', 'deinstall ok config-files', '4.0.1']),
      'etc/proxmox-backup/datastore.cfg': 'datastore: old\n\tpath /mnt/old\n',
      'etc/apt/sources.list.d/pbs.sources': 'Types: deb\nURIs: http://download.proxmox.com/debian/pbs\n',
    }),
  );
  assert.equal(removed.role, 'unknown', 'config files left by a removed package are no PBS');
  assert.match(removed.evidence.pbs!, /no proxmox-backup-server package/);

  const binaries = detectFacts(root(t, { 'usr/sbin/proxmox-backup-manager': '', 'usr/sbin/proxmox-backup-proxy': '' }));
  assert.deepEqual([binaries.role, binaries.pbs_version], ['pbs', undefined]);
  assert.match(binaries.evidence.pbs!, /binaries present/);

  const oneBinary = detectFacts(root(t, { 'usr/bin/pvesh': '' }));
  assert.equal(oneBinary.role, 'unknown', 'pvesh alone is not enough');

  const dual = detectFacts(root(t, { 'var/lib/dpkg/status': dpkg(['proxmox-ve', 'install ok installed', '9.0.0'], ['proxmox-backup-server', 'install ok installed', '4.0.1']) }));
  assert.deepEqual([dual.role, dual.dual, dual.pve_version, dual.pbs_version], ['dual', true, '9.0.0', '4.0.1']);
});

test('cluster, ZFS, Ceph, tape and LVM facts, each with its evidence', (t) => {
  const f = detectFacts(
    root(t, {
      'var/lib/dpkg/status': dpkg(['pve-manager', 'install ok installed', '9.0.3'], ['lvm2', 'install ok installed', '2.03.31-2']),
      'etc/pve/corosync.conf': COROSYNC,
      'etc/pve/storage.cfg': 'dir: local\n\tpath /var/lib/vz\n\nzfspool: local-zfs\n\tpool rpool/data\n\ncephfs: cephfs\n\tpath /mnt/pve/cephfs\n',
      // A PVE host with a tape.cfg is not a tape host: tape is a PBS fact.
      'etc/proxmox-backup/tape.cfg': 'lto: drive0\n\tpath /dev/tape/by-id/x\n',
    }),
  );
  assert.deepEqual([f.clustered, f.cluster_name, f.zfs, f.ceph, f.tape, f.lvm], [true, 'homelab', true, true, false, true]);
  assert.equal(f.evidence.clustered, 'corosync.conf lists 2 node(s)');
  assert.equal(f.evidence.zfs, 'storage.cfg has a zfspool storage');
  assert.equal(f.evidence.ceph, 'storage.cfg has rbd/cephfs storage');

  const pbsTape = detectFacts(
    root(t, {
      'var/lib/dpkg/status': dpkg(['proxmox-backup-server', 'install ok installed', '4.0.1']),
      'etc/proxmox-backup/tape.cfg': 'lto: drive0\n\tpath /dev/tape/by-id/x\n',
      'etc/zfs/zpool.cache': 'binary',
    }),
  );
  assert.deepEqual([pbsTape.tape, pbsTape.zfs, pbsTape.clustered, pbsTape.ceph, pbsTape.lvm], [true, true, false, false, false]);
  assert.equal(pbsTape.evidence.zfs, '/etc/zfs/zpool.cache present');
});

test('node name and FQDN: /etc/hostname first, then /etc/hosts; localhost when nothing says', (t) => {
  const short = detectFacts(root(t, { 'etc/hostname': 'pve1\n', 'etc/hosts': '127.0.0.1 localhost\n192.0.2.10 pve1.example.org pve1 # mgmt\n' }));
  assert.deepEqual([short.node, short.hostname, short.fqdn], ['pve1', 'pve1', 'pve1.example.org']);
  const long = detectFacts(root(t, { 'etc/hostname': 'due.lab.example\n' }));
  assert.deepEqual([long.node, long.fqdn], ['due', 'due.lab.example']);
  const none = detectFacts(root(t, {}));
  assert.deepEqual([none.node, none.fqdn, none.role], ['localhost', undefined, 'unknown']);
});

test('a symlinked marker counts (usrmerge hosts link /usr/sbin binaries)', (t) => {
  const r = root(t, { 'usr/bin/pvesh': '', 'opt/pveversion': '' });
  symlinkSync('/opt/pveversion', r.real('/usr/bin/pveversion'));
  assert.equal(detectFacts(r).role, 'pve');
});

test('accounts are the host\'s: its /etc/passwd and /etc/group, numbers when unknown', (t) => {
  assert.deepEqual([...parseIdFile('# comment\nroot:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nbroken\nroot2:x:0:0::/:/bin/sh\n')], [
    [0, 'root'],
    [33, 'www-data'],
  ]);
  const a = loadAccounts(root(t, { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\nbackup:x:34:34::/var/backups:/usr/sbin/nologin\n', 'etc/group': 'root:x:0:\nwww-data:x:33:\n' }));
  assert.equal(a.user(34), 'backup');
  assert.equal(a.group(33), 'www-data');
  assert.equal(a.user(4242), '4242');
});
