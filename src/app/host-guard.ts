// Guards against committing a broken picture of the host. The moment an
// administrator most needs the backup (pmxcfs down, a PBS config directory
// gone, a wrong --root) is exactly when the live files look "deleted": such a
// snapshot must be refused, never committed, exported and rotated in.
import { lstatSync, readdirSync } from 'node:fs';
import type { Facts, Role } from '../facts/detect-facts.ts';
import type { TaskPlan } from '../modules/types.ts';
import type { HostRoot } from '../ports/host-root.ts';
import type { FilesTask } from '../tasks/schema.ts';
import type { CommitInfo } from '../git/commit.ts';

export interface MountProblem {
  /** The host directory that does not hold what the installed product implies. */
  dir: string;
  message: string;
}

function exists(root: HostRoot, path: string): boolean {
  try {
    lstatSync(root.real(path));
    return true;
  } catch {
    return false;
  }
}

/**
 * Configuration directories that are missing or not what they must be on
 * this host: /etc/pve without pmxcfs's virtual files (.version, .members are
 * present whenever pmxcfs is mounted) on a PVE host; /etc/proxmox-backup
 * missing or empty (lock files aside) on a PBS host.
 */
export function mountProblems({ root, facts }: { root: HostRoot; facts: Pick<Facts, 'pve' | 'pbs'> }): MountProblem[] {
  const out: MountProblem[] = [];
  if (facts.pve) {
    const missing = ['.version', '.members'].filter((f) => !exists(root, `/etc/pve/${f}`));
    if (missing.length > 0)
      out.push({
        dir: '/etc/pve',
        message: `pmxcfs is not mounted: /etc/pve has no ${missing.join(' or ')} although the PVE packages are installed; check \`systemctl status pve-cluster\` (and \`journalctl -u pve-cluster\`), then run again`,
      });
  }
  if (facts.pbs) {
    let entries: string[] | undefined;
    try {
      entries = readdirSync(root.real('/etc/proxmox-backup')).filter((n) => !/^\..*\.lck$/.test(n) && !n.endsWith('.lock'));
    } catch {
      entries = undefined;
    }
    if (!entries || entries.length === 0)
      out.push({
        dir: '/etc/proxmox-backup',
        message: `/etc/proxmox-backup is ${entries ? 'empty' : 'missing'} although proxmox-backup-server is installed; check the host (\`systemctl status proxmox-backup\`, is the root filesystem complete?), then run again`,
      });
  }
  return out;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(dir + '/') || dir.startsWith(path.replace(/\/+$/, '') + '/');

/**
 * Fails, as critical, every files task that would read a problem directory:
 * what it collected there would be an empty picture. Its previous content is
 * kept. Returns the plans (new ones for the tasks failed this way, the
 * others as they were) and the names of the tasks failed this way.
 */
export function failTasksUnder(plans: readonly TaskPlan[], problems: MountProblem[]): { plans: TaskPlan[]; failed: string[] } {
  const failed: string[] = [];
  const out = plans.map((p): TaskPlan => {
    if (p.status === 'skipped' || p.task.module !== 'files') return p;
    const paths = (p.task.def as FilesTask).files;
    const hit = problems.find((m) => paths.some((f) => under(f, m.dir)));
    if (!hit) return p;
    failed.push(p.task.name);
    // Globs keep nothing by name: the whole directory keeps its previous content.
    const keep = [...p.keep, hit.dir.slice(1) + '/', ...paths.flatMap((f) => [f.replace(/^\/+/, '').replace(/\/+$/, '') + '/', f.replace(/^\/+/, '')])];
    return { ...p, status: 'failed', reason: hit.message, errors: [...p.errors, hit.message], entries: [], keep };
  });
  return { plans: out, failed };
}

/** The role recorded in a snapshot commit (its Proxsave-Role trailer). */
export function roleOfCommit(info: Pick<CommitInfo, 'trailers'>): Role | undefined {
  const r = info.trailers.get('proxsave-role');
  return r === 'pve' || r === 'pbs' || r === 'dual' || r === 'unknown' ? r : undefined;
}
