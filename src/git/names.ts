// The only names proxsave refuses to collect: those that make stock
// `git fsck --strict` reject the repository (git 2.39 fsck.c, utf8.c; the
// tests check each rule against the real git). Every other byte string is
// a valid tree entry name, backslashes, colons, `git~2` and non-UTF-8 bytes
// included.
//
//  - hasDotgit: `.git` in any case, with HFS+-ignored code points anywhere
//    (U+200C–U+200F, U+202A–U+202E, U+206A–U+206F, U+FEFF) or followed by
//    bytes that are not UTF-8 (`.git\xe9`), or its NTFS
//    spellings `.git` / `git~1` followed only by dots and spaces, up to the
//    end, a `\` or a `:` (`.git.`, `.git `, `git~1.`, `.git:stream`, `.git\x`).
//  - .gitmodules (same HFS+/NTFS spellings, `gitmod~1`…`~4`, `gi7eba~N`) as a
//    symlink or a directory, or as a file holding a [submodule] section
//    (fsck checks their urls and paths; proxsave does not try to).
//  - .gitattributes (`gitatt~1`…, `gi7d29~N`) as a directory, or as a file
//    with a line over 2048 bytes or over 100 MiB.

export type NameKind = 'file' | 'directory' | 'symlink';

// git folds ASCII only (tolower on bytes): so does this.
const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

// Where git's UTF-8 reader gives up: a raw byte (util/name-bytes) or
// U+FFFE/U+FFFF, which git also counts as malformed.
const MALFORMED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/;

/** git's is_hfs_dot_generic: malformed UTF-8 reads as the end of the name. */
function isHfsDot(name: string, needle: string): boolean {
  let s = name.replace(HFS_IGNORED, '');
  const bad = s.search(MALFORMED);
  if (bad >= 0) s = s.slice(0, bad);
  return lower(s) === `.${needle}`;
}

function onlySpacesAndPeriods(rest: string, backslash: boolean): boolean {
  for (const c of rest) {
    if (c === ':' || (backslash && c === '\\')) return true;
    if (c !== ' ' && c !== '.') return false;
  }
  return true;
}

function isNtfsDotgit(name: string): boolean {
  const n = lower(name);
  if (n.startsWith('.git')) return onlySpacesAndPeriods(name.slice(4), true);
  if (n.startsWith('git~1')) return onlySpacesAndPeriods(name.slice(5), true);
  return false;
}

/** git's is_ntfs_dot_generic: `.needle`, its 8.3 short name, or the hashed fallback. */
function isNtfsDot(name: string, needle: string, shortPrefix: string): boolean {
  const n = lower(name);
  if (n.startsWith(`.${needle}`)) return onlySpacesAndPeriods(name.slice(needle.length + 1), false);
  if (n.startsWith(needle.slice(0, 6)) && n[6] === '~' && n[7]! >= '1' && n[7]! <= '4') return onlySpacesAndPeriods(name.slice(8), false);
  let sawTilde = false;
  for (let i = 0; i < 8; i++) {
    const c = n[i];
    if (c === undefined) return false;
    if (sawTilde) {
      if (c < '0' || c > '9') return false;
    } else if (c === '~') {
      const d = n[++i];
      if (d === undefined || d < '1' || d > '9') return false;
      sawTilde = true;
    } else if (i >= 6 || c !== shortPrefix[i]) return false;
  }
  return onlySpacesAndPeriods(name.slice(8), false);
}

export const isDotgit = (name: string): boolean => isHfsDot(name, 'git') || isNtfsDotgit(name);
const isDotgitmodules = (name: string): boolean => isHfsDot(name, 'gitmodules') || isNtfsDot(name, 'gitmodules', 'gi7eba');
const isDotgitattributes = (name: string): boolean => isHfsDot(name, 'gitattributes') || isNtfsDot(name, 'gitattributes', 'gi7d29');

const MAX_ATTR_LINE = 2048;
const MAX_ATTR_SIZE = 100 * 1024 * 1024;

/**
 * Why git cannot hold an entry with this name (one path component), or
 * undefined when it can. `content` is asked for only for the rare file
 * names whose content fsck checks.
 */
export function refusedName(name: string, kind: NameKind, content?: () => Buffer | undefined): string | undefined {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return 'not a valid file name';
  if (isDotgit(name)) return 'git cannot store a path component named .git (or a spelling of it that git treats as .git)';
  if (isDotgitmodules(name)) {
    if (kind === 'symlink') return 'git fsck rejects a .gitmodules that is a symbolic link';
    if (kind === 'directory') return 'git fsck rejects a .gitmodules that is not a file';
    const b = content?.();
    if (b && /\[\s*submodule/i.test(b.toString('latin1'))) return 'git fsck checks the [submodule] sections of a .gitmodules file';
  }
  if (isDotgitattributes(name)) {
    if (kind === 'directory') return 'git fsck rejects a .gitattributes that is not a file';
    if (kind === 'file') {
      const b = content?.();
      if (b && b.length > MAX_ATTR_SIZE) return 'git fsck rejects a .gitattributes over 100 MiB';
      if (b && b.toString('latin1').split('\n').some((l) => l.length > MAX_ATTR_LINE)) return 'git fsck rejects a .gitattributes with lines over 2048 bytes';
    }
  }
  return undefined;
}
