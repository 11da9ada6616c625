// `.proxsave/metadata`: what git cannot keep (modes beyond 644/755, owners,
// empty directories), one sorted line per entry. The snapshot writer formats
// it with these functions and the exporter parses it, so both sides share one
// definition of the format.
import { ProxsaveError } from '../core/errors.ts';

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
}

// Control characters, backslash or a leading quote would make the raw form
// ambiguous (a newline ends the line), so such paths are JSON string literals.
const NEEDS_QUOTING = /[\u0000-\u001f\u007f\\]/;

function formatPath(path: string): string {
  return NEEDS_QUOTING.test(path) || path.startsWith('"') ? JSON.stringify(path) : path;
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
  return `${type} ${m} ${uid} ${gid} ${owner} ${group} ${formatPath(path)}`;
}

/** Byte order of the UTF-8 encoding, as git and `LC_ALL=C sort` order paths. */
export function comparePaths(a: string, b: string): number {
  // Without encoding: UTF-8 byte order is code point order, and UTF-16 code
  // units only disagree with it where a surrogate (a code point above U+FFFF)
  // meets U+E000–U+FFFF. Sorting 100k paths this way allocates nothing.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** The whole file: header, entries sorted by path (byte order), final newline. */
export function formatMetadata(entries: Iterable<MetaEntry>): string {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const lines = [METADATA_HEADER];
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (i > 0 && sorted[i - 1]!.path === e.path) {
      throw new ProxsaveError('REPOSITORY', `metadata lists ${JSON.stringify(e.path)} twice`);
    }
    lines.push(formatMetadataLine(e));
  }
  return lines.join('\n') + '\n';
}

const FIELD = /^([fdl]) ([0-7]{4}) (\d+) (\d+) (\S+) (\S+) (.+)$/s;

export function parseMetadataLine(line: string, lineNo = 0): MetaEntry {
  const m = FIELD.exec(line);
  const bad = (why: string): ProxsaveError =>
    new ProxsaveError('REPOSITORY', `${METADATA_PATH}:${lineNo}: ${why}: ${JSON.stringify(line.slice(0, 200))}`, {
      hint: 'the snapshot metadata is damaged; take a new snapshot',
    });
  if (!m) throw bad('malformed line');
  let path = m[7]!;
  if (path.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(path);
      if (typeof parsed !== 'string') throw new Error('not a string');
      path = parsed;
    } catch {
      throw bad('malformed quoted path');
    }
  }
  const uid = Number(m[3]);
  const gid = Number(m[4]);
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw bad('uid/gid out of range');
  return { type: m[1] as MetaType, mode: parseInt(m[2]!, 8), uid, gid, owner: m[5]!, group: m[6]!, path };
}

/** Parse the file into a map keyed by path. Throws REPOSITORY on damage. */
export function parseMetadata(text: string): Map<string, MetaEntry> {
  const lines = text.split('\n');
  if (lines[0] !== METADATA_HEADER) {
    throw new ProxsaveError('REPOSITORY', `${METADATA_PATH}:1: expected "${METADATA_HEADER}", found ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  }
  const out = new Map<string, MetaEntry>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const e = parseMetadataLine(line, i + 1);
    out.set(e.path, e);
  }
  return out;
}
