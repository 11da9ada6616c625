// `.proxsave/metadata`: what git cannot keep (modes beyond 644/755, owners,
// empty directories), one sorted line per entry. The snapshot writer formats
// it with these functions and the exporter parses it, so both sides share one
// definition of the format.
import { ProxsaveError } from '../core/errors.ts';
import { comparePaths } from '../git/path-order.ts';
import { decodeName, encodeName } from '../util/name-bytes.ts';

export const METADATA_HEADER = '# proxsave metadata v1';
export const METADATA_PATH = '.proxsave/metadata';

export type MetaType = 'f' | 'd' | 'l';

export interface MetaEntry {
  type: MetaType;
  /** Permission bits including setuid/setgid/sticky (0o7777 at most). */
  mode: number;
  uid: number;
  gid: number;
  /** User name, or the numeric id as text when the host had no name for it. */
  owner: string;
  group: string;
  /** Relative to the root, no leading slash; `.` is the root itself. */
  path: string;
  /**
   * A hard link: the path of the first entry (in path order) of the same
   * inode, which the archive holds as the content; written as an `h` line.
   */
  link?: string;
}

// Paths are written as they are, unless a raw form would be ambiguous (a
// newline ends the line, a tab separates a hard link from its target) or
// could not be written as UTF-8 text (bytes that are not valid UTF-8, see
// util/name-bytes). Such paths are quoted the way git quotes them
// (core.quotePath): "…" with \\ \" \a \b \t \n \v \f \r, and \ooo (octal) for
// other control characters and for each raw byte; valid UTF-8 stays as it is.
// Repositories written before this kept JSON string literals ("\u001b"):
// the parser still reads \uXXXX and \/.
// eslint-disable-next-line no-control-regex
const NEEDS_QUOTING = /[\u0000-\u001f\u007f\\]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const C_ESCAPES: Record<number, string> = { 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x22: '"', 0x5c: '\\' };

export function quotePath(path: string): string {
  if (!NEEDS_QUOTING.test(path) && !path.startsWith('"')) return path;
  let out = '"';
  const b = encodeName(path);
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x20 || c === 0x7f || c === 0x22 || c === 0x5c) {
      out += C_ESCAPES[c] ? `\\${C_ESCAPES[c]}` : `\\${c.toString(8).padStart(3, '0')}`;
      i++;
      continue;
    }
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    // A valid UTF-8 sequence stays readable; a raw byte is octal.
    let j = i + 1;
    while (j < b.length && b[j]! >= 0x80) j++;
    const text = decodeName(b.subarray(i, j));
    for (let k = 0; k < text.length; k++) {
      const u = text.charCodeAt(k);
      if (u >= 0xd800 && u <= 0xdbff && k + 1 < text.length && (text.charCodeAt(k + 1) & 0xfc00) === 0xdc00) {
        out += text[k]! + text[k + 1]!; // a real pair (a character above U+FFFF)
        k++;
      } else if (u >= 0xdc80 && u <= 0xdcff) out += `\\${(u & 0xff).toString(8).padStart(3, '0')}`;
      else out += text[k]!;
    }
    i = j;
  }
  return out + '"';
}

/** The inverse of quotePath; undefined when `q` is not a well-formed quoted path. */
export function unquotePath(q: string): string | undefined {
  if (q.length < 2 || !q.startsWith('"') || !q.endsWith('"')) return undefined;
  const parts: Buffer[] = [];
  let text = ''; // raw characters and \u escapes, UTF-8 encoded together (pairs)
  const flush = () => {
    if (text !== '') parts.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  const body = q.slice(1, -1);
  const simple: Record<string, string> = { a: '\x07', b: '\b', t: '\t', n: '\n', v: '\v', f: '\f', r: '\r', '"': '"', '\\': '\\', '/': '/' };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"') return undefined;
    if (ch !== '\\') {
      text += ch;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return undefined;
    if (simple[e] !== undefined) text += simple[e];
    else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 1, i + 5))) {
      text += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (/^[0-3][0-7]{2}$/.test(body.slice(i, i + 3))) {
      flush();
      parts.push(Buffer.of(parseInt(body.slice(i, i + 3), 8)));
      i += 2;
    } else return undefined;
  }
  flush();
  return decodeName(Buffer.concat(parts));
}

function checkName(kind: string, name: string, path: string): void {
  if (name === '' || /[\s]/.test(name)) {
    throw new ProxsaveError('REPOSITORY', `metadata ${kind} name ${JSON.stringify(name)} for ${JSON.stringify(path)} is empty or contains whitespace`);
  }
}

export function formatMetadataLine(entry: MetaEntry): string {
  const { type, mode, uid, gid, owner, group, path } = entry;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new ProxsaveError('REPOSITORY', `metadata mode ${mode} for ${JSON.stringify(path)} is outside 0000-7777`);
  }
  for (const [k, v] of [['uid', uid], ['gid', gid]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ProxsaveError('REPOSITORY', `metadata ${k} ${v} for ${JSON.stringify(path)} is not a non-negative integer`);
  }
  checkName('owner', owner, path);
  checkName('group', group, path);
  if (path === '' || path.startsWith('/')) {
    throw new ProxsaveError('REPOSITORY', `metadata path ${JSON.stringify(path)} must be relative and non-empty`);
  }
  const m = mode.toString(8).padStart(4, '0');
  if (entry.link !== undefined) return `h ${m} ${uid} ${gid} ${owner} ${group} ${quotePath(path)}\t${quotePath(entry.link)}`;
  return `${type} ${m} ${uid} ${gid} ${owner} ${group} ${quotePath(path)}`;
}

/** The whole file: header, entries sorted by path (byte order), final newline. */
export function formatMetadata(entries: Iterable<MetaEntry>): string {
  return formatMetadataBytes(entries).toString('utf8');
}

/**
 * The file's bytes (UTF-8), made in pieces: no array of every line and no
 * string of the whole file next to its bytes (50k entries are ~4 MB).
 */
export function formatMetadataBytes(entries: Iterable<MetaEntry>): Buffer {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const pieces: Buffer[] = [];
  let piece = METADATA_HEADER + '\n';
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (i > 0 && sorted[i - 1]!.path === e.path) {
      throw new ProxsaveError('REPOSITORY', `metadata lists ${JSON.stringify(e.path)} twice`);
    }
    piece += formatMetadataLine(e) + '\n';
    if (piece.length >= 1 << 16) {
      pieces.push(Buffer.from(piece));
      piece = '';
    }
  }
  pieces.push(Buffer.from(piece));
  return Buffer.concat(pieces);
}

const FIELD = /^([fdlh]) ([0-7]{4}) (\d+) (\d+) (\S+) (\S+) (.+)$/s;

export function parseMetadataLine(line: string, lineNo = 0): MetaEntry {
  const m = FIELD.exec(line);
  const bad = (why: string): ProxsaveError =>
    new ProxsaveError('REPOSITORY', `${METADATA_PATH}:${lineNo}: ${why}: ${JSON.stringify(line.slice(0, 200))}`, {
      hint: 'the snapshot metadata is damaged; take a new snapshot',
    });
  if (!m) throw bad('malformed line');
  let path = m[7]!;
  let link: string | undefined;
  if (m[1] === 'h') {
    // A raw tab never occurs in a written path (it is quoted as \t).
    const tab = path.indexOf('\t');
    if (tab <= 0) throw bad('hard link without a target');
    link = parsePath(path.slice(tab + 1));
    path = path.slice(0, tab);
    if (link === undefined) throw bad('malformed quoted link target');
  }
  const parsed = parsePath(path);
  if (parsed === undefined) throw bad('malformed quoted path');
  const uid = Number(m[3]);
  const gid = Number(m[4]);
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw bad('uid/gid out of range');
  // The kind of a hard link is its target's; parseMetadata fills it in.
  const type = (m[1] === 'h' ? 'f' : m[1]) as MetaType;
  return { type, mode: parseInt(m[2]!, 8), uid, gid, owner: m[5]!, group: m[6]!, path: parsed, ...(link === undefined ? {} : { link }) };
}

function parsePath(raw: string): string | undefined {
  return raw.startsWith('"') ? unquotePath(raw) : raw;
}

/** Parse the file into a map keyed by path. Throws REPOSITORY on damage. */
export function parseMetadata(text: string): Map<string, MetaEntry> {
  const lines = text.split('\n');
  if (lines[0] !== METADATA_HEADER) {
    throw new ProxsaveError('REPOSITORY', `${METADATA_PATH}:1: expected "${METADATA_HEADER}", found ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  }
  const out = new Map<string, MetaEntry>();
  // Owner and group names repeat on every line: one string each, not one per entry.
  const names = new Map<string, string>();
  const intern = (v: string): string => {
    const known = names.get(v);
    if (known !== undefined) return known;
    names.set(v, v);
    return v;
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const e = parseMetadataLine(line, i + 1);
    e.owner = intern(e.owner);
    e.group = intern(e.group);
    out.set(e.path, e);
  }
  for (const e of out.values()) {
    if (e.link === undefined) continue;
    const t = out.get(e.link);
    // A link to nothing, to a directory or to another link is not a hard
    // link proxsave wrote: the entry is then an ordinary file.
    if (!t || t.type === 'd' || t.link !== undefined) delete e.link;
    else e.type = t.type;
  }
  return out;
}
