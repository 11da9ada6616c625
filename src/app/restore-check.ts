// proxsave restore --check: the preflight before putting a node back. Is
// this the host the backup is from (hostname, role)? Do the guests in the
// selection find the bridges and storages they use? Do kernel, PVE and
// cluster membership match? Each finding is ok | warn | block.
import fs from 'node:fs';
import path from 'node:path';
import type { Facts } from '../facts/detect-facts.ts';
import type { ProcessRunner } from '../ports/process-runner.ts';
import { key } from '../restore/check-entries.ts';
import { readContent } from '../restore/entry.ts';
import type { EntrySource } from '../restore/sources.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import type { SourceInfo } from './restore-source.ts';
import { scanSource, type Selection } from './restore.ts';

export type Level = 'ok' | 'warn' | 'block';

export interface Finding {
  level: Level;
  check: 'hostname' | 'role' | 'bridge' | 'storage' | 'kernel' | 'pve-version' | 'cluster';
  message: string;
  /** The guest config a bridge/storage finding is about. */
  path?: string;
}

const GUEST = /^etc\/pve\/nodes\/[^/]+\/(qemu-server|lxc)\/(\d+)\.conf$/;
const DISK_KEY = /^(scsi|sata|ide|virtio|efidisk|tpmstate|unused|rootfs|mp)\d*$/;

/** Bridges and storages one guest config uses (the current config, not its snapshots). */
export function guestReferences(text: string): { bridges: Set<string>; storages: Set<string> } {
  const bridges = new Set<string>();
  const storages = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) break; // snapshot and pending sections follow the current config
    const m = /^([a-z]+\d*):\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, k, v] = m as unknown as [string, string, string];
    if (/^net\d+$/.test(k)) {
      const b = /(?:^|,)bridge=([^,\s]+)/.exec(v);
      if (b) bridges.add(b[1]!);
    } else if (DISK_KEY.test(k)) {
      const first = v.split(',')[0]!.trim();
      // `none`, `cdrom`, host paths and bind mounts name no storage.
      const s = /^([A-Za-z][A-Za-z0-9._-]*):/.exec(first);
      if (s && !first.startsWith('/')) storages.add(s[1]!);
    }
  }
  return { bridges, storages };
}

/** Interface names declared in /etc/network/interfaces (and its source-d files). */
export function liveInterfaces(root: string): Set<string> {
  const out = new Set<string>();
  const files = [path.join(root, 'etc/network/interfaces')];
  const d = path.join(root, 'etc/network/interfaces.d');
  try {
    for (const f of fs.readdirSync(d)) files.push(path.join(d, f));
  } catch {
    // none
  }
  for (const f of files) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      const m = /^\s*(?:iface|auto|allow-[a-z-]+)\s+(.+)$/.exec(l);
      if (!m) continue;
      const words = m[1]!.trim().split(/\s+/);
      if (l.trim().startsWith('iface')) out.add(words[0]!);
      else for (const w of words) out.add(w);
    }
  }
  return out;
}

/** Storage ids defined in /etc/pve/storage.cfg (`type: id` lines). */
export function liveStorages(root: string): Set<string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, 'etc/pve/storage.cfg'), 'utf8');
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  for (const l of text.split('\n')) {
    const m = /^([a-z0-9]+):\s*(\S+)\s*$/.exec(l);
    if (m) out.add(m[2]!);
  }
  return out;
}

const major = (v: string | null | undefined): string | undefined => (v ? /^(\d+)/.exec(v)?.[1] : undefined);
const kernelSeries = (v: string | undefined): string | undefined => (v ? /(\d+\.\d+)/.exec(v)?.[1] : undefined);

export async function checkRestore({
  source,
  info,
  selection,
  liveRoot,
  facts,
  runner,
}: {
  source: EntrySource;
  info: SourceInfo;
  selection: Selection;
  liveRoot: string;
  facts: Facts;
  runner: ProcessRunner;
}): Promise<Finding[]> {
  const f: Finding[] = [];
  const same = canonicalHostname(info.hostname) === canonicalHostname(facts.hostname);
  f.push({ level: same ? 'ok' : 'block', check: 'hostname', message: same ? `hostname ${facts.hostname} matches` : `archive is from ${info.hostname}, this host is ${facts.hostname} (--apply refuses without --force)` });
  const roleOk = info.role === facts.role || info.role === 'unknown';
  f.push({ level: roleOk ? 'ok' : 'block', check: 'role', message: roleOk ? `role ${facts.role} matches` : `archive is a ${info.role} host, this one is ${facts.role}` });

  // Guest configs and the archive's own kernel line, read from the source.
  const scanned = await scanSource(source, selection);
  const guests: { path: string; text: string }[] = [];
  let uname: string | undefined;
  for await (const e of source()) {
    const text = e.name.toString('utf8');
    if (e.type === 'file' && scanned.select.has(key(e.name)) && GUEST.test(text)) guests.push({ path: text, text: (await readContent(e)).toString('utf8') });
    else if (e.type === 'file' && /^var\/lib\/proxsave-info\/commands\/system\/uname[^/]*\.txt$/.test(text)) uname = (await readContent(e)).toString('utf8');
  }
  const bridges = liveInterfaces(liveRoot);
  const storages = liveStorages(liveRoot);
  for (const g of guests) {
    const kind = GUEST.exec(g.path)![1] === 'lxc' ? 'CT' : 'VM';
    const id = GUEST.exec(g.path)![2];
    const refs = guestReferences(g.text);
    const missingBridges = [...refs.bridges].filter((b) => !bridges.has(b));
    for (const b of missingBridges) f.push({ level: 'block', check: 'bridge', path: `/${g.path}`, message: `${kind} ${id} uses bridge ${b}, which /etc/network/interfaces does not define` });
    if (refs.bridges.size && !missingBridges.length) f.push({ level: 'ok', check: 'bridge', path: `/${g.path}`, message: `${kind} ${id}: bridges ${[...refs.bridges].join(', ')} present` });
    if (storages === undefined) {
      if (refs.storages.size) f.push({ level: 'warn', check: 'storage', path: `/${g.path}`, message: `${kind} ${id} uses storages ${[...refs.storages].join(', ')}; this host has no /etc/pve/storage.cfg to check them against` });
      continue;
    }
    const missing = [...refs.storages].filter((s) => !storages.has(s));
    for (const s of missing) f.push({ level: 'block', check: 'storage', path: `/${g.path}`, message: `${kind} ${id} uses storage ${s}, which /etc/pve/storage.cfg does not define` });
    if (refs.storages.size && !missing.length) f.push({ level: 'ok', check: 'storage', path: `/${g.path}`, message: `${kind} ${id}: storages ${[...refs.storages].join(', ')} present` });
  }

  const archKernel = kernelSeries(uname?.split(/\s+/)[2]);
  const r = await runner.run(['uname', '-r'], { timeoutMs: 10000 }).catch(() => undefined);
  const liveKernel = kernelSeries(r?.stdout.toString('utf8').trim());
  if (archKernel && liveKernel) f.push({ level: archKernel === liveKernel ? 'ok' : 'warn', check: 'kernel', message: archKernel === liveKernel ? `kernel ${liveKernel} series matches` : `archive ran kernel ${archKernel}, this host runs ${liveKernel}: check /etc/kernel, modules and DKMS before applying` });
  const a = major(info.pveVersion);
  const l = major(facts.pve_version);
  if (a || l) {
    const ok = a === l;
    f.push({ level: ok ? 'ok' : 'warn', check: 'pve-version', message: ok ? `PVE ${a}.x on both` : `archive is from PVE ${a ?? 'none'}.x, this host runs PVE ${l ?? 'none'}.x: configuration formats may differ` });
  }
  if (info.cluster !== undefined) {
    if (info.cluster === facts.clustered) f.push({ level: 'ok', check: 'cluster', message: info.cluster ? `both cluster members${facts.cluster_name ? ` (${facts.cluster_name})` : ''}` : 'both standalone' });
    else if (info.cluster) f.push({ level: 'warn', check: 'cluster', message: 'archive is from a cluster node, this host is standalone: restoring /etc/corosync and config.db joins it to that cluster (see pmxcfs "Recovery")' });
    else f.push({ level: 'block', check: 'cluster', message: 'archive is from a standalone host, this one is a cluster member: applying would overwrite cluster-wide configuration' });
  }
  return f;
}
