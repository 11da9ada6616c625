// Generated host trees with every kind of name a Linux host can hold, and an
// lstat-based walker to compare a tree entry by entry after extraction.
// Paths are Buffers here: nothing in the helpers goes through text.
import { createHash } from 'node:crypto';
import { chmodSync, lchownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { onPath } from '../../src/util/name-bytes.ts';

export const b = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
export const join = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [b(p)] : [Buffer.from('/'), b(p)])));

export interface Node {
  type: 'f' | 'd' | 'l';
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of the content (files) or the target bytes in hex (symlinks). */
  data: string;
  ino: number;
}

/** Every entry below `base` (not base itself), keyed by the relative path bytes in hex-free latin1 form. */
export function walk(base: Buffer): Map<string, Node> {
  const out = new Map<string, Node>();
  const rec = (rel: Buffer) => {
    const full = rel.length ? join(base, rel) : base;
    // onPath: some test paths are longer than PATH_MAX.
    for (const name of onPath(full, (q) => readdirSync(q, { encoding: 'buffer' })).sort(Buffer.compare)) {
      const r = rel.length ? join(rel, name) : name;
      const p = join(base, r);
      const st = onPath(p, (q) => lstatSync(q));
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : undefined;
      if (!type) throw new Error(`unexpected entry ${r.toString('latin1')}`);
      const data =
        type === 'f'
          ? createHash('sha256').update(onPath(p, (q) => readFileSync(q))).digest('hex')
          : type === 'l'
            ? onPath(p, (q) => readlinkSync(q, { encoding: 'buffer' })).toString('hex')
            : '';
      out.set(r.toString('latin1'), { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, data, ino: st.ino });
      if (type === 'd') rec(r);
    }
  };
  rec(Buffer.alloc(0));
  return out;
}

/** The hard-link groups of a walk: sorted lists of paths sharing an inode (2 or more). */
export function linkGroups(tree: Map<string, Node>): string[][] {
  const by = new Map<number, string[]>();
  for (const [p, n] of tree) if (n.type !== 'd') by.set(n.ino, [...(by.get(n.ino) ?? []), p]);
  return [...by.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
}

/** The tree without inode numbers, for deepEqual. */
export function shape(tree: Map<string, Node>): Record<string, Omit<Node, 'ino'>> {
  const o: Record<string, Omit<Node, 'ino'>> = {};
  for (const [p, { ino: _ino, ...rest }] of tree) o[p] = rest;
  return o;
}

const BIG_ID = 4294967294;

/**
 * Builds the tree under `dir` (a host directory, e.g. <root>/etc/names):
 * names with every byte 0x01–0xff but '/', a 255-byte name, every
 * permission pattern with every setuid/setgid/sticky combination, owners without passwd entries up to 4294967294, symlinks of every
 * kind, hard-link groups (one of a symlink) and directories with odd modes.
 */
export function buildNameTree(dir: Buffer): void {
  mkdirSync(dir, { recursive: true });
  const bytes = join(dir, 'bytes');
  mkdirSync(bytes);
  for (let c = 1; c <= 0xff; c++) {
    if (c === 0x2f) continue;
    writeFileSync(join(bytes, Buffer.from([0x6e, c, 0x6e])), Buffer.from([c]));
    if (c !== 0x2e) writeFileSync(join(bytes, Buffer.from([c])), `byte ${c}\n`);
  }
  // Whole names that are not UTF-8, a directory of them, and text names.
  const raw = join(dir, Buffer.from('caf\xe9', 'latin1'));
  mkdirSync(raw);
  writeFileSync(join(raw, Buffer.from('bad\xff', 'latin1')), 'below a non-UTF-8 directory\n');
  writeFileSync(join(raw, Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98])), 'invalid sequences\n');
  writeFileSync(join(dir, 'naïve ✓ 😀'), 'utf-8\n');
  writeFileSync(join(dir, 'tab\tnew\nline\r "quote" back\\slash'), 'controls\n');
  writeFileSync(join(dir, ' lead and trail '), 'spaces\n');
  writeFileSync(join(dir, 'x'.repeat(255)), 'longest name\n');
  writeFileSync(join(dir, Buffer.alloc(255, 0xe9)), 'longest raw name\n');
  // A path over 4 KiB (PATH_MAX): 18 directories of 230 bytes, some not UTF-8.
  let deep = join(dir, 'deep');
  mkdirSync(deep);
  for (let i = 0; i < 18; i++) {
    deep = join(deep, i % 3 === 0 ? Buffer.concat([Buffer.from(`${i}-`), Buffer.alloc(226, 0xe9)]) : `${i}-${'d'.repeat(226)}`);
    onPath(deep, (q) => mkdirSync(q));
  }
  onPath(join(deep, 'z'.repeat(255)), (q) => writeFileSync(q, 'over 4 KiB down\n'));
  onPath(join(deep, 'link'), (q) => symlinkSync(Buffer.alloc(3000, 0x61), q));
  // Names isomorphic-git refused and git accepts.
  for (const n of ['git~2', 'a\\b', '.gitx', 'x.git', '.g\u200bit', 'GIT~3', '.git..x']) writeFileSync(join(dir, n), `${n}\n`);

  // All 512 permission patterns, each with one of the 8 setuid/setgid/sticky
  // combinations (p * 5 mod 8 walks all 8, each 64 times): every bit alone and
  // together, at an eighth of the cost of all 4096 modes. Owners without
  // passwd entries.
  const modes = join(dir, 'modes');
  mkdirSync(modes);
  for (let perm = 0; perm < 512; perm++) {
    const m = perm | (((perm * 5) & 7) << 9);
    const p = join(modes, m.toString(8).padStart(4, '0'));
    writeFileSync(p, m % 7 === 0 ? '' : `mode ${m}\n`);
    lchownSync(p, m * 1048573 % BIG_ID, (m * 7919) % BIG_ID);
    chmodSync(p, m); // after chown, which clears setuid/setgid
  }
  const owners = join(dir, 'owners');
  mkdirSync(owners);
  for (const [i, id] of [0, 1, 65534, 65535, 262143, 262144, 2097151, 2097152, 2147483647, 2147483648, BIG_ID].entries()) {
    const p = join(owners, `id-${id}`);
    writeFileSync(p, `${id}\n`);
    lchownSync(p, id, BIG_ID - i);
  }
  for (const [m, name] of [[0o1777, 'sticky'], [0o2750, 'setgid'], [0o700, 'private'], [0o555, 'readonly'], [0o7777, 'all'], [0, 'none']] as const) {
    const p = join(dir, 'dirs', name);
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, 'inside'), `${name}\n`);
    lchownSync(p, 4000 + m, BIG_ID);
    chmodSync(p, m);
  }
  mkdirSync(join(dir, 'dirs', 'empty'));
  chmodSync(join(dir, 'dirs', 'empty'), 0o1750);

  // Symlinks.
  const links = join(dir, 'links');
  mkdirSync(links);
  symlinkSync('/etc/hostname', join(links, 'absolute'));
  symlinkSync('../bytes/n\x01n', join(links, 'relative'));
  symlinkSync('does/not/exist', join(links, 'dangling'));
  symlinkSync(Buffer.from('caf\xe9/bad\xff', 'latin1'), join(links, 'raw-target'));
  symlinkSync(Buffer.from('line\nbreak\ttab\\', 'latin1'), join(links, Buffer.from('raw\xe9name', 'latin1')));
  symlinkSync('/' + 'long/'.repeat(800), join(links, 'long-target'));
  lchownSync(join(links, 'absolute'), 123456, 654321);
  lchownSync(join(links, 'raw-target'), BIG_ID, BIG_ID);

  // Hard links: a group of three across directories, a pair with a
  // non-UTF-8 name, and a hard link to a symlink.
  const hard = join(dir, 'hard');
  mkdirSync(join(hard, 'a'), { recursive: true });
  mkdirSync(join(hard, 'b'));
  writeFileSync(join(hard, 'a', 'one'), 'shared inode\n');
  chmodSync(join(hard, 'a', 'one'), 0o4751);
  linkSync(join(hard, 'a', 'one'), join(hard, 'b', 'two'));
  linkSync(join(hard, 'a', 'one'), join(hard, 'three'));
  writeFileSync(join(hard, Buffer.from('p\xe9', 'latin1')), 'raw pair\n');
  linkSync(join(hard, Buffer.from('p\xe9', 'latin1')), join(hard, Buffer.from('q\xff', 'latin1')));
  symlinkSync('a/one', join(hard, 'sym'));
  linkSync(join(hard, 'sym'), join(hard, 'sym-hardlink'));
}

/** A systemd mount unit for a Directory storage named "backup-nfs", with its wants/ symlink. */
export function buildSystemdUnit(systemDir: Buffer): void {
  const unit = 'mnt-pve-backup\\x2dnfs.mount';
  mkdirSync(join(systemDir, 'multi-user.target.wants'), { recursive: true });
  writeFileSync(join(systemDir, unit), '[Mount]\nWhat=192.0.2.5:/export/backup\nWhere=/mnt/pve/backup-nfs\nType=nfs\n');
  symlinkSync(`/etc/systemd/system/${unit}`, join(systemDir, 'multi-user.target.wants', unit));
}

/** Names git fsck rejects (the tests check each against git too). */
export const REFUSED = ['.git', '.GIT', '.git.', '.git ', 'git~1', 'Git~1..', '.git:stream', '.g\u200cit', '\ufeff.git'];
