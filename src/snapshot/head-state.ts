// What the last snapshot (HEAD) looks like, as cheaply as possible: the stat
// cache when it belongs to HEAD, else git; HEAD's metadata and secrets lists
// from copies kept beside the cache, checked against their blob ids.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashObject } from '../git/objects.ts';
import { METADATA_PATH, parseMetadata, quotePath, unquotePath, type MetaEntry } from './read-metadata.ts';
import { comparePaths } from '../git/path-order.ts';
import { readBlob, readTreeFlat } from '../git/tree.ts';
import { readCommit } from '../git/commit.ts';
import { loadStateCache, saveStateCache, type CachedFile, type StateCache } from './state-cache.ts';

export const SECRETS_PATH = '.proxsave/secrets';

/** .proxsave/secrets: a comment, then one path a line, quoted like the metadata paths when needed. */
export function formatSecrets(paths: string[]): string {
  return ['# paths whose content proxsave masks in diffs and logs', ...[...paths].sort(comparePaths).map(quotePath)].join('\n') + '\n';
}

export function parseSecrets(text: string): Set<string> {
  const out = new Set<string>();
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('#')) continue;
    out.add(l.startsWith('"') ? (unquotePath(l) ?? l) : l);
  }
  return out;
}

export interface LoadedState extends StateCache {
  secrets: Set<string>;
  /** HEAD's .proxsave/metadata and .proxsave/secrets, when there are. */
  metaText: Buffer | undefined;
  secretsText: Buffer | undefined;
  /** The cache was rebuilt from git: stat keys are unknown and must be saved. */
  rebuilt: boolean;
}

/**
 * HEAD's metadata and secrets files are kept beside the stat cache, so a
 * no-change run never inflates git objects; a copy is trusted only when its
 * blob id is the one HEAD's tree names.
 */
function headText(dir: string, name: string, oid: string | undefined): Buffer | undefined {
  if (!oid) return undefined;
  try {
    const b = readFileSync(join(dir, '.git', 'proxsave', name));
    return hashObject('blob', b) === oid ? b : undefined;
  } catch {
    return undefined;
  }
}

export function saveHeadText(dir: string, name: string, content: Buffer): void {
  const p = join(dir, '.git', 'proxsave', name);
  writeFileSync(`${p}.tmp`, content, { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}

/** HEAD's flattened tree: from the stat cache when it belongs to HEAD, else from git. */
export async function loadState(dir: string, head: string | undefined): Promise<LoadedState> {
  let cache = head ? loadStateCache({ dir }) : undefined;
  let rebuilt = !cache || cache.head !== head;
  if (!cache || cache.head !== head) {
    const files = new Map<string, CachedFile>();
    if (head) {
      const info = await readCommit({ dir, oid: head });
      for (const [path, f] of await readTreeFlat({ dir, tree: info.tree })) files.set(path, { ...f, statKey: '', task: '' });
    }
    cache = { head, files };
  }
  const secrets = new Set<string>();
  const s = cache.files.get(SECRETS_PATH);
  let secretsText: Buffer | undefined;
  if (s) {
    secretsText = headText(dir, 'secrets', s.oid);
    if (!secretsText) {
      secretsText = await readBlob({ dir, oid: s.oid });
      rebuilt = true; // save the copy for next time
    }
    for (const p of parseSecrets(secretsText.toString('utf8'))) secrets.add(p);
  }
  const m = cache.files.get(METADATA_PATH);
  let metaText = headText(dir, 'metadata', m?.oid);
  if (m && !metaText) {
    metaText = await readBlob({ dir, oid: m.oid });
    rebuilt = true;
  }
  return { ...cache, secrets, metaText, secretsText, rebuilt };
}

export function loadMetadata(state: LoadedState): Map<string, MetaEntry> {
  return state.metaText ? parseMetadata(state.metaText.toString('utf8')) : new Map();
}

/**
 * Without a commit the cache still describes HEAD: HEAD's ids, with the
 * fresh stats of files whose content is unchanged, so the next run skips
 * reading them.
 */
export function saveCache(dir: string, head: string | undefined, base: Map<string, CachedFile>, next: Map<string, CachedFile>): void {
  const files = new Map<string, CachedFile>();
  for (const [path, f] of base) {
    const n = next.get(path);
    files.set(path, n && n.oid === f.oid && n.mode === f.mode ? n : f);
  }
  saveStateCache({ dir, cache: { head, files } });
}
