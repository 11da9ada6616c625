// Read-only probes of the host under the root. A fact is a file read plus a
// pure parser; nothing here runs a command or writes. Role detection uses
// strong markers (installed package status, the product's binary), never a
// leftover directory or an apt source alone.
import { readFileSync, lstatSync } from 'node:fs';
import type { HostRoot } from '../ports/host-root.ts';

export type Role = 'pve' | 'pbs' | 'dual' | 'unknown';

export interface Facts {
  role: Role;
  pve: boolean;
  pbs: boolean;
  dual: boolean;
  clustered: boolean;
  cluster_name: string | undefined;
  zfs: boolean;
  ceph: boolean;
  tape: boolean;
  lvm: boolean;
  node: string;
  hostname: string;
  fqdn: string | undefined;
  pve_version: string | undefined;
  pbs_version: string | undefined;
  /** Why each boolean fact is what it is, for `proxsave tasks -v`. */
  evidence: Record<string, string>;
}

export interface DpkgPackage {
  status: string;
  version: string | undefined;
}

/** Parses /var/lib/dpkg/status into package → status/version. */
export function parseDpkgStatus(text: string): Map<string, DpkgPackage> {
  const out = new Map<string, DpkgPackage>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const pkg = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    if (!pkg) continue;
    out.set(pkg, { status: /^Status:\s*(.+)$/m.exec(stanza)?.[1]?.trim() ?? '', version: /^Version:\s*(\S+)/m.exec(stanza)?.[1] });
  }
  return out;
}

export function installedVersion(pkgs: Map<string, DpkgPackage>, name: string): string | undefined {
  const p = pkgs.get(name);
  return p && p.status === 'install ok installed' ? (p.version ?? 'unknown') : undefined;
}

/** corosync.conf → cluster name and node names (empty when no nodelist). */
export function parseCorosync(text: string): { clusterName: string | undefined; nodes: string[] } {
  const clusterName = /^\s*cluster_name:\s*(\S+)/m.exec(text)?.[1];
  const nodelist = /nodelist\s*\{([\s\S]*?)\n\}/m.exec(text)?.[1] ?? '';
  const nodes = [...nodelist.matchAll(/^\s*name:\s*(\S+)/gm)].map((m) => m[1]!);
  return { clusterName, nodes };
}

/** Section-config types present in a storage.cfg. */
export function storageTypes(text: string): Set<string> {
  return new Set([...text.matchAll(/^(\S+):\s*\S+\s*$/gm)].map((m) => m[1]!));
}

export function detectFacts(root: HostRoot): Facts {
  const read = (p: string) => {
    try {
      return readFileSync(root.real(p), 'utf8');
    } catch {
      return undefined;
    }
  };
  const isFile = (p: string) => {
    try {
      const st = lstatSync(root.real(p));
      return st.isFile() || st.isSymbolicLink();
    } catch {
      return false;
    }
  };
  const evidence: Record<string, string> = {};
  const pkgs = parseDpkgStatus(read('/var/lib/dpkg/status') ?? '');

  const pveVersion = installedVersion(pkgs, 'pve-manager') ?? installedVersion(pkgs, 'proxmox-ve');
  const pveBinary = isFile('/usr/bin/pveversion') && isFile('/usr/bin/pvesh');
  const pve = pveVersion !== undefined || pveBinary;
  evidence.pve = pveVersion ? `package pve-manager ${pveVersion} installed` : pveBinary ? 'pveversion and pvesh binaries present' : 'no pve-manager package, no pveversion binary';

  const pbsVersion = installedVersion(pkgs, 'proxmox-backup-server');
  const pbsBinary = isFile('/usr/sbin/proxmox-backup-manager') && isFile('/usr/sbin/proxmox-backup-proxy');
  const pbs = pbsVersion !== undefined || pbsBinary;
  evidence.pbs = pbsVersion ? `package proxmox-backup-server ${pbsVersion} installed` : pbsBinary ? 'proxmox-backup-manager and proxy binaries present' : 'no proxmox-backup-server package, no binaries';

  const role: Role = pve && pbs ? 'dual' : pve ? 'pve' : pbs ? 'pbs' : 'unknown';

  const corosyncText = read('/etc/pve/corosync.conf') ?? read('/etc/corosync/corosync.conf') ?? '';
  const corosync = parseCorosync(corosyncText);
  const clustered = corosync.nodes.length > 0;
  evidence.clustered = clustered ? `corosync.conf lists ${corosync.nodes.length} node(s)` : 'no corosync.conf nodelist';

  const storage = storageTypes(read('/etc/pve/storage.cfg') ?? '');
  const zfsPkg = installedVersion(pkgs, 'zfsutils-linux');
  const zfs = storage.has('zfspool') || isFile('/etc/zfs/zpool.cache') || zfsPkg !== undefined;
  evidence.zfs = storage.has('zfspool') ? 'storage.cfg has a zfspool storage' : isFile('/etc/zfs/zpool.cache') ? '/etc/zfs/zpool.cache present' : zfsPkg ? 'zfsutils-linux installed' : 'no ZFS pool configured';

  const cephConf = isFile('/etc/pve/ceph.conf') || isFile('/etc/ceph/ceph.conf');
  const ceph = cephConf || storage.has('rbd') || storage.has('cephfs');
  evidence.ceph = cephConf ? 'ceph.conf present' : ceph ? 'storage.cfg has rbd/cephfs storage' : 'no Ceph configuration';

  const tapeCfg = read('/etc/proxmox-backup/tape.cfg') ?? '';
  const tape = pbs && /^\S+:\s*\S+/m.test(tapeCfg);
  evidence.tape = tape ? 'tape.cfg defines tape devices' : 'no tape devices configured';

  const lvm = installedVersion(pkgs, 'lvm2') !== undefined || isFile('/etc/lvm/lvm.conf');
  evidence.lvm = lvm ? 'lvm2 present' : 'no LVM';

  const hostnameFile = (read('/etc/hostname') ?? '').trim().split('\n')[0]?.trim() ?? '';
  const node = hostnameFile.split('.')[0] || 'localhost';
  const fqdn = hostnameFile.includes('.') ? hostnameFile : findFqdn(read('/etc/hosts') ?? '', node);

  return {
    role,
    pve,
    pbs,
    dual: role === 'dual',
    clustered,
    cluster_name: corosync.clusterName,
    zfs,
    ceph,
    tape,
    lvm,
    node,
    hostname: node,
    fqdn,
    pve_version: pveVersion,
    pbs_version: pbsVersion,
    evidence,
  };
}

function findFqdn(hosts: string, node: string): string | undefined {
  for (const line of hosts.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    if (fields.includes(node)) return fields.find((f) => f.startsWith(node + '.'));
  }
  return undefined;
}
