// proxsave's own cache beside the repository (.git/proxsave/state): the
// flattened tree of HEAD plus, per path, the stat of the host source it was
// read from. A no-change run compares stats and reads no file; the cache is
// trusted only for the HEAD it was written for.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GitMode, TreeFile } from '../git/objects.ts';

export interface CachedFile extends TreeFile {
  /** size:mtimeMs:ctimeMs:ino:dev of the host source, '' for generated content. */
  statKey: string;
  task: string;
}

export interface StateCache {
  head: string | undefined;
  files: Map<string, CachedFile>;
}

const MAGIC = 'proxsave-state v1';

function cachePath(dir: string): string {
  return join(dir, '.git', 'proxsave', 'state');
}

export function loadStateCache({ dir }: { dir: string }): StateCache | undefined {
  let text: string;
  try {
    text = readFileSync(cachePath(dir), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const head = lines[0]!.startsWith(MAGIC + ' ') ? lines[0]!.slice(MAGIC.length + 1) : undefined;
  if (!head) return undefined;
  const files = new Map<string, CachedFile>();
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const t1 = l.indexOf('\t');
    const t2 = l.indexOf('\t', t1 + 1);
    const t3 = l.indexOf('\t', t2 + 1);
    const t4 = l.indexOf('\t', t3 + 1);
    if (t4 < 0) return undefined; // damaged: rebuild from git
    files.set(JSON.parse(l.slice(t4 + 1)) as string, { oid: l.slice(0, t1), mode: l.slice(t1 + 1, t2) as GitMode, statKey: l.slice(t2 + 1, t3), task: l.slice(t3 + 1, t4) });
  }
  return { head: head === '-' ? undefined : head, files };
}

export function saveStateCache({ dir, cache }: { dir: string; cache: StateCache }): void {
  const out: string[] = [`${MAGIC} ${cache.head ?? '-'}`];
  for (const [path, f] of cache.files) out.push(`${f.oid}\t${f.mode}\t${f.statKey}\t${f.task.replace(/[\t\n]/g, ' ')}\t${JSON.stringify(path)}`);
  const p = cachePath(dir);
  mkdirSync(join(dir, '.git', 'proxsave'), { recursive: true, mode: 0o700 });
  writeFileSync(`${p}.tmp`, out.join('\n') + '\n', { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}
