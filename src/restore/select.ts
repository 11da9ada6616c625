// Which entries a restore touches: `--paths` globs over host paths (a match
// takes the whole subtree), the ancestors of what matched (so directories
// come back with their modes), the files hard links point to, and never the
// proxsave-internal trees unless --with-info.
import { matchesAny } from '../util/glob.ts';
import { key } from './check-entries.ts';
import type { ScannedEntry } from './extract.ts';

const INTERNAL = ['.proxsave', 'var/lib/proxsave-info'];

export function isInternal(name: string): boolean {
  return INTERNAL.some((p) => name === p || name.startsWith(`${p}/`));
}

/** Glob users write `/etc/pve` or `etc/pve/**`; match host paths with a leading slash. */
function normaliseGlob(g: string): string {
  const s = g.startsWith('/') ? g : `/${g}`;
  return s.length > 1 ? s.replace(/\/+$/, '') : s;
}

export function selectEntries(entries: ScannedEntry[], { paths = [], withInfo = false }: { paths?: string[]; withInfo?: boolean }): Set<string> {
  const globs = paths.map(normaliseGlob);
  const picked = new Set<string>();
  const byKey = new Map(entries.map((e) => [key(e.name), e]));
  const matches = (name: string): boolean => {
    if (globs.length === 0) return true;
    // The path or an ancestor matches.
    let p = `/${name}`;
    for (;;) {
      if (matchesAny(p, globs)) return true;
      const i = p.lastIndexOf('/');
      if (i <= 0) return false;
      p = p.slice(0, i);
    }
  };
  const add = (name: Buffer): void => {
    picked.add(key(name));
    for (let i = name.lastIndexOf(0x2f); i !== -1; i = name.lastIndexOf(0x2f, i - 1)) {
      const k = key(name.subarray(0, i));
      if (picked.has(k)) break;
      picked.add(k);
      if (i === 0) break;
    }
  };
  for (const e of entries) {
    if (e.name.length === 0) continue;
    const text = e.name.toString('utf8');
    if (!withInfo && isInternal(text)) continue;
    if (matches(text)) add(e.name);
  }
  for (const e of entries) {
    if (e.type === 'hardlink' && picked.has(key(e.name)) && e.link && byKey.has(key(e.link))) add(e.link);
  }
  picked.add('');
  return picked;
}
