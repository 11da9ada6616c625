// proxsave restore --diff-live: how the selection differs from the live host
// (--root): content, mode, owner, type, missing on the host, extra on the
// host. Secret paths (.proxsave/secrets of the source) are masked.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { key } from '../restore/check-entries.ts';
import { readContent, type RestoreEntry } from '../restore/entry.ts';
import { joinName } from '../restore/extract.ts';
import { lstatOrNull } from '../restore/live-ops.ts';
import type { EntrySource } from '../restore/sources.ts';
import { isInternal } from '../restore/select.ts';
import { renderPatch } from '../util/patch.ts';
import { scanSource, type Selection } from './restore.ts';

const require = createRequire(import.meta.url);

export type DiffKind = 'content' | 'mode' | 'owner' | 'type' | 'missing' | 'extra';

export interface LiveDifference {
  path: string;
  kind: DiffKind;
  detail: string;
  /** Unified diff (archive → live) for content differences; masked for secrets. */
  patch?: string;
}

// pmxcfs' virtual files: never collected, so never "extra".
const VIRTUAL = new Set(['etc/pve/.members', 'etc/pve/.vmlist', 'etc/pve/.version', 'etc/pve/.clusterlog', 'etc/pve/.rrd', 'etc/pve/.debug']);

const SECRETS = '.proxsave/secrets';
const PMXCFS_DB = 'var/lib/pve-cluster/config.db';

/** config.db is collected as an online SQLite copy: equal when its `tree` rows are. */
function sameSqliteTree(a: Buffer, b: Buffer): boolean {
  try {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const rows = (buf: Buffer) => {
      const db = new Database(buf, { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT * FROM tree ORDER BY inode').raw().all(), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
      } finally {
        db.close();
      }
    };
    return rows(a) === rows(b);
  } catch {
    return false;
  }
}

export async function diffLive({ source, liveRoot, selection, showSecrets = false }: { source: EntrySource; liveRoot: string; selection: Selection; showSecrets?: boolean }): Promise<LiveDifference[]> {
  const scanned = await scanSource(source, selection);
  const root = Buffer.from(path.resolve(liveRoot));
  const out: LiveDifference[] = [];
  const secrets = new Set<string>();
  const names = new Set(scanned.entries.map((e) => key(e.name)));
  const childCount = new Map<string, number>();
  for (const e of scanned.entries) {
    const i = e.name.lastIndexOf(0x2f);
    const parent = i === -1 ? '' : key(e.name.subarray(0, i));
    if (scanned.select.has(key(e.name))) childCount.set(parent, (childCount.get(parent) ?? 0) + 1);
  }
  const octal = (m: number) => m.toString(8).padStart(4, '0');
  const files: { e: RestoreEntry; content: Buffer }[] = [];
  for await (const e of source()) {
    const text = e.name.toString('utf8');
    if (text === SECRETS && e.type === 'file') for (const l of (await readContent(e)).toString('utf8').split('\n')) if (l && !l.startsWith('#')) secrets.add(l);
    if (e.name.length === 0 || !scanned.select.has(key(e.name))) continue;
    const live = joinName(root, e.name);
    const s = lstatOrNull(live);
    if (!s) {
      out.push({ path: text, kind: 'missing', detail: `${e.type} not on the live host` });
      continue;
    }
    const liveType = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
    const want = e.type === 'hardlink' ? 'file' : e.type;
    if (liveType !== want) {
      out.push({ path: text, kind: 'type', detail: `${want} in the archive, ${liveType} on the live host` });
      continue;
    }
    if (e.type === 'file') files.push({ e, content: await readContent(e) });
    else if (e.type === 'symlink') {
      const t = fs.readlinkSync(live, 'buffer') as Buffer;
      if (!t.equals(e.link!)) out.push({ path: text, kind: 'content', detail: `symlink to ${e.link!.toString('utf8')} in the archive, to ${t.toString('utf8')} on the live host` });
    }
    if (e.type === 'hardlink') {
      const t = lstatOrNull(joinName(root, e.link!));
      if (!t || t.ino !== s.ino) out.push({ path: text, kind: 'content', detail: `hard link to /${e.link!.toString('utf8')} in the archive, a separate file on the live host` });
    }
    if (e.type !== 'symlink' && (s.mode & 0o7777) !== e.mode) out.push({ path: text, kind: 'mode', detail: `${octal(e.mode)} in the archive, ${octal(s.mode & 0o7777)} on the live host` });
    if (s.uid !== e.uid || s.gid !== e.gid) out.push({ path: text, kind: 'owner', detail: `${e.uid}:${e.gid} in the archive, ${s.uid}:${s.gid} on the live host` });
    // Extra files: only in directories the archive holds whole (with files of
    // their own), never in the big shared ones (/, /etc, /var …).
    if (e.type === 'dir' && text.includes('/') && (childCount.get(key(e.name)) ?? 0) > 0 && !isInternal(text)) {
      for (const n of (fs.readdirSync(live, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
        const child = Buffer.concat([e.name, Buffer.from('/'), n]);
        // Subdirectories the archive lacks were most likely excluded on purpose (locks, caches).
        if (lstatOrNull(joinName(root, child))?.isDirectory()) continue;
        const ct = child.toString('utf8');
        if (!names.has(key(child)) && !VIRTUAL.has(ct) && !n.toString('latin1').startsWith('.proxsave-restore-')) out.push({ path: ct, kind: 'extra', detail: 'on the live host, not in the archive' });
      }
    }
  }
  for (const { e, content } of files) {
    const text = e.name.toString('utf8');
    const liveContent = fs.readFileSync(joinName(root, e.name));
    if (!liveContent.equals(content) && !(text === PMXCFS_DB && sameSqliteTree(content, liveContent))) {
      const secret = secrets.has(text);
      const patch = await renderPatch({ path: text, status: 'modified', oldContent: content, newContent: liveContent, secret }, { showSecrets });
      out.push({ path: text, kind: 'content', detail: `${content.length} bytes in the archive, ${liveContent.length} on the live host${secret && !showSecrets ? ' (secret, masked)' : ''}`, patch });
    }
  }
  const order: Record<DiffKind, number> = { missing: 0, type: 1, content: 2, mode: 3, owner: 4, extra: 5 };
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : order[a.kind] - order[b.kind]));
}
