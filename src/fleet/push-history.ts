// `run` pushes the snapshot history to SNAPSHOT_REMOTE, branch
// hosts/<hostname>. A plain (fast-forward only) push: the remote never loses a
// commit, and a push that failed is simply repeated by the next run, which
// sends everything the remote does not have yet.
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { Reporter } from '../ports/reporter.ts';
import { HEAD_REF, readHead } from '../git/refs.ts';
import { displayUrl, gitRun, lastLines, remoteEnv } from './git-remote.ts';

export function hostBranch(hostname: string): string {
  return `hosts/${hostname.toLowerCase().replace(/[^a-z0-9._-]/g, '_').replace(/^[.-]+/, '_')}`;
}

export async function pushHistory({ config, hostname, env = process.env }: { config: Config; hostname: string; env?: NodeJS.ProcessEnv; reporter?: Reporter }): Promise<{ branch: string; commit: string | undefined; detail: string }> {
  const branch = hostBranch(hostname);
  const head = readHead({ dir: config.SNAPSHOT_PATH });
  if (!head) return { branch, commit: undefined, detail: 'no snapshot yet, nothing to push' };
  const r = await gitRun({
    args: ['-C', config.SNAPSHOT_PATH, 'push', '--porcelain', '--quiet', config.SNAPSHOT_REMOTE, `${HEAD_REF}:refs/heads/${branch}`],
    env: remoteEnv(config, env),
    secrets: [config.SNAPSHOT_REMOTE_TOKEN],
  });
  if (r.exitCode !== 0) {
    const rejected = /\[rejected\]|non-fast-forward|fetch first/.test(r.stdout + r.stderr);
    throw new ProxsaveError('BACKUP', `${displayUrl(config.SNAPSHOT_REMOTE)} ${branch}: ${rejected ? 'rejected: the remote branch has commits this repository does not (was the repository re-created?)' : lastLines(r.stderr || r.stdout)}`, {
      hint: rejected ? `move the remote branch aside (git push REMOTE ${branch}:${branch}-old) or set SNAPSHOT_REMOTE to a new repository` : 'check SNAPSHOT_REMOTE, the token and the network; the next run retries',
    });
  }
  const upToDate = /\[up to date\]/.test(r.stdout);
  return { branch, commit: head, detail: `${upToDate ? 'already up to date' : 'pushed'} ${head.slice(0, 12)} to ${displayUrl(config.SNAPSHOT_REMOTE)} ${branch}` };
}
