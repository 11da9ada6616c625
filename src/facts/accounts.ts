// uid/gid → names as the HOST knows them (its /etc/passwd and /etc/group
// under the root), not as the machine running proxsave does.
import { readFileSync } from 'node:fs';
import type { HostRoot } from '../ports/host-root.ts';

export interface Accounts {
  user(uid: number): string;
  group(gid: number): string;
}

export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id) && !out.has(id)) out.set(id, f[0]!);
  }
  return out;
}

export function loadAccounts(root: HostRoot): Accounts {
  const read = (p: string) => {
    try {
      return parseIdFile(readFileSync(root.real(p), 'utf8'));
    } catch {
      return new Map<number, string>();
    }
  };
  const users = read('/etc/passwd');
  const groups = read('/etc/group');
  // Debian's fixed ids, for roots without /etc/passwd (example hosts).
  const fallbackUsers = new Map([[0, 'root'], [33, 'www-data'], [34, 'backup']]);
  const fallbackGroups = new Map([[0, 'root'], [33, 'www-data'], [34, 'backup'], [4, 'adm'], [42, 'shadow'], [101, 'crontab']]);
  return {
    user: (uid) => users.get(uid) ?? fallbackUsers.get(uid) ?? String(uid),
    group: (gid) => groups.get(gid) ?? fallbackGroups.get(gid) ?? String(gid),
  };
}
