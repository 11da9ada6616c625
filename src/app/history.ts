// Reading the snapshot history: diff between revisions, log, show. Nothing
// here writes; secret paths (from each commit's .proxsave/secrets and the
// current catalogue) are masked unless showSecrets.
import { ProxsaveError } from '../core/errors.ts';
import { resolveRev } from '../git/rev.ts';
import { diffTrees, readBlob, readPath, type TreeChange } from '../git/tree.ts';
import { isRepo } from '../git/refs.ts';
import { readCommit } from '../git/commit.ts';
import { SECRETS_PATH } from '../snapshot/head-state.ts';
import { parseSecrets } from '../snapshot/head-state.ts';

export interface FileDiff {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  oldOid?: string | undefined;
  newOid?: string | undefined;
  oldMode?: string | undefined;
  newMode?: string | undefined;
  secret: boolean;
  /** Present for live diffs, where the new content is not in git. */
  newContent?: Buffer | undefined;
}

export function requireRepo(dir: string): void {
  if (!isRepo(dir)) throw new ProxsaveError('NOT_FOUND', `no snapshot repository at ${dir}`, { hint: 'run `proxsave snapshot` first, or check SNAPSHOT_PATH' });
}

export async function secretsOf(dir: string, commit: string): Promise<Set<string>> {
  const info = await readCommit({ dir, oid: commit });
  const f = await readPath({ dir, tree: info.tree, path: SECRETS_PATH });
  return parseSecrets(f?.content.toString('utf8') ?? '');
}

export async function diffRevisions({ dir, from, to }: { dir: string; from: string; to: string }): Promise<FileDiff[]> {
  requireRepo(dir);
  const a = await resolveRev({ dir, rev: from });
  const b = await resolveRev({ dir, rev: to });
  const [ia, ib] = await Promise.all([readCommit({ dir, oid: a }), readCommit({ dir, oid: b })]);
  const secrets = new Set([...(await secretsOf(dir, a)), ...(await secretsOf(dir, b))]);
  const changes = await diffTrees({ dir, a: ia.tree, b: ib.tree });
  return changes.map((c: TreeChange) => ({ ...c, secret: secrets.has(c.path) }));
}

export async function contentOf(dir: string, oid: string | undefined): Promise<Buffer | undefined> {
  return oid ? readBlob({ dir, oid }) : undefined;
}

export interface LogEntry {
  commit: string;
  date: string;
  summary: string;
  files_changed: number;
  host: string | undefined;
  tasks_changed: string[];
}

export async function log({ dir, max = 20, rev = 'HEAD' }: { dir: string; max?: number; rev?: string }): Promise<LogEntry[]> {
  requireRepo(dir);
  let oid: string | undefined = await resolveRev({ dir, rev });
  const out: LogEntry[] = [];
  while (oid && out.length < max) {
    const info = await readCommit({ dir, oid });
    const parent = info.parents[0] ? await readCommit({ dir, oid: info.parents[0] }) : undefined;
    const changes = await diffTrees({ dir, a: parent?.tree, b: info.tree });
    out.push({
      commit: oid,
      date: new Date(info.timestamp * 1000).toISOString(),
      summary: info.message.split('\n')[0]!,
      files_changed: changes.filter((c) => !c.path.startsWith('.proxsave/')).length,
      host: info.trailers.get('proxsave-host'),
      tasks_changed: (info.trailers.get('proxsave-tasks-changed') ?? '').split(', ').filter((t) => t !== '' && t !== '-'),
    });
    oid = info.parents[0];
  }
  return out;
}

/** A file's content at a revision. */
export async function fileAt({ dir, rev, path }: { dir: string; rev: string; path: string }): Promise<{ content: Buffer; secret: boolean; commit: string }> {
  requireRepo(dir);
  const commit = await resolveRev({ dir, rev });
  const info = await readCommit({ dir, oid: commit });
  const rel = path.replace(/^\/+/, '');
  const f = await readPath({ dir, tree: info.tree, path: rel });
  if (!f) throw new ProxsaveError('NOT_FOUND', `${path} is not in snapshot ${commit.slice(0, 12)}`);
  return { content: f.content, secret: (await secretsOf(dir, commit)).has(rel), commit };
}
