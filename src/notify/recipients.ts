// Default mail recipient: root@pam's address, as the admin entered it in the
// GUI. PVE keeps it in /etc/pve/user.cfg (colon records), PBS in
// /etc/proxmox-backup/user.cfg (section config).
import { readFileSync } from 'node:fs';
import type { HostRoot } from '../ports/host-root.ts';

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** PVE: `user:<userid>:<enable>:<expire>:<firstname>:<lastname>:<email>:…` */
export function pveUserEmail(text: string, user = 'root@pam'): string | undefined {
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f[0] === 'user' && f[1] === user) return f[6] ? decode(f[6]) : undefined;
  }
  return undefined;
}

/** PBS: `user: <userid>` followed by indented `email <address>` properties. */
export function pbsUserEmail(text: string, user = 'root@pam'): string | undefined {
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      current = head[1] === 'user' ? head[2] : undefined;
      continue;
    }
    const prop = /^\s+email\s+(\S+)\s*$/.exec(line);
    if (prop && current === user) return prop[1];
  }
  return undefined;
}

export function rootEmail(root: HostRoot): string | undefined {
  const read = (p: string) => {
    try {
      return readFileSync(root.real(p), 'utf8');
    } catch {
      return undefined;
    }
  };
  const pve = read('/etc/pve/user.cfg');
  const fromPve = pve === undefined ? undefined : pveUserEmail(pve);
  if (fromPve) return fromPve;
  const pbs = read('/etc/proxmox-backup/user.cfg');
  return pbs === undefined ? undefined : pbsUserEmail(pbs);
}
