// A comparable picture of a directory tree for restore tests: names are read
// as bytes (keys are their latin1 form), so non-UTF-8 names compare exactly.
import fs from 'node:fs';

/** type, mode, owner and bytes (or link target) of every path under dir, the root included. */
export function treeState(dir: string, filter: (rel: string) => boolean = () => true): Map<string, string> {
  const out = new Map<string, string>();
  const base = Buffer.from(dir);
  const walk = (rel: Buffer): void => {
    const p = rel.length === 0 ? base : Buffer.concat([base, Buffer.from('/'), rel]);
    const s = fs.lstatSync(p);
    const kind = s.isSymbolicLink() ? 'l' : s.isDirectory() ? 'd' : s.isFile() ? 'f' : '?';
    const body = kind === 'l' ? (fs.readlinkSync(p, 'buffer') as Buffer).toString('latin1') : kind === 'f' ? fs.readFileSync(p).toString('base64') : '';
    out.set(rel.length === 0 ? '.' : rel.toString('latin1'), `${kind} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${body}`);
    if (kind === 'd')
      for (const n of (fs.readdirSync(p, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
        const r = rel.length === 0 ? n : Buffer.concat([rel, Buffer.from('/'), n]);
        if (filter(r.toString('latin1'))) walk(r);
      }
  };
  walk(Buffer.alloc(0));
  return out;
}
