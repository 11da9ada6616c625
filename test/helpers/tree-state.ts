// A comparable picture of a directory tree for restore tests.
import fs from 'node:fs';
import path from 'node:path';

/** type, mode, owner and bytes (or link target) of every path under dir, the root included. */
export function treeState(dir: string, filter: (rel: string) => boolean = () => true): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const p = rel === '' ? dir : path.join(dir, rel);
    const s = fs.lstatSync(p);
    const kind = s.isSymbolicLink() ? 'l' : s.isDirectory() ? 'd' : s.isFile() ? 'f' : '?';
    const body = kind === 'l' ? fs.readlinkSync(p) : kind === 'f' ? fs.readFileSync(p).toString('base64') : '';
    out.set(rel === '' ? '.' : rel, `${kind} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${body}`);
    if (kind === 'd') for (const n of fs.readdirSync(p).sort()) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (filter(r)) walk(r);
    }
  };
  walk('');
  return out;
}

