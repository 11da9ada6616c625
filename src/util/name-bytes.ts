// File names are bytes on Linux, not text. proxsave keeps every path as an
// ordinary JS string so the rest of the program (globs, task definitions,
// JSON, messages) works unchanged, with one lossless rule at the boundaries
// (fs, git trees, the index, tar headers), the "surrogateescape" of PEP 383:
//
//   bytes → string: strict UTF-8; each byte that is not part of a valid
//                   sequence becomes the lone surrogate U+DC00 + byte
//                   (U+DC80–U+DCFF: bytes 0x80–0xff).
//   string → bytes: UTF-8, except that those lone surrogates are the raw
//                   byte again.
//
// A valid UTF-8 name is the same string as before; `caf\xe9` is "caf\udce9".
// encodeName(decodeName(b)) equals b for every byte string b.

import { closeSync, constants as fsConstants, openSync } from 'node:fs';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** Length of the valid UTF-8 sequence starting at b[i], or 0. */
function seqLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** The string form of a name's bytes (see the file comment). */
export function decodeName(b: Uint8Array): string {
  if (isAscii(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  try {
    return decoder.decode(b);
  } catch {
    /* not valid UTF-8: escape the bytes that are not */
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = seqLength(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    } else {
      out += decoder.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** True when the string holds an escaped raw byte (a lone surrogate). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function hasRawBytes(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** The bytes of a name in string form. */
export function encodeName(s: string): Buffer {
  if (!hasRawBytes(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a real pair: UTF-8 below
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'));
      // Only U+DC80–U+DCFF come from decodeName; any other lone surrogate
      // cannot be a name byte and keeps its low byte (never produced here).
      parts.push(Buffer.of(c & 0xff));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** Byte length of the encoded name. */
export function nameLength(s: string): number {
  return hasRawBytes(s) ? encodeName(s).length : Buffer.byteLength(s);
}

/** A path for node's fs functions: a Buffer when a plain string would lose bytes. */
export function fsPath(s: string): string | Buffer {
  return hasRawBytes(s) ? encodeName(s) : s;
}

/**
 * A name for messages: raw bytes as \xNN, control characters escaped, so a
 * warning never prints U+FFFD or breaks a line.
 */
export function displayName(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\u0000-\u001f\u007f\ud800-\udfff\\]/.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += `\\x${(c & 0xff).toString(16).padStart(2, '0')}`;
    else if (c < 0x20 || c === 0x7f) out += c === 0x0a ? '\\n' : c === 0x09 ? '\\t' : `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x5c) out += '\\\\';
    else out += s[i]!;
  }
  return out;
}

// Paths longer than PATH_MAX (4096 bytes with the NUL) cannot be given to a
// system call whole. They are reached through /proc/self/fd: the directory
// part is opened piece by piece (each piece well under the limit, relative
// to the previous directory's fd), and the call gets
// /proc/self/fd/<fd>/<last piece>. Only synchronous calls use this.
const LONG = 3800;

export function onPath<T>(path: string | Buffer, fn: (p: string | Buffer) => T): T {
  const bytes = typeof path === 'string' ? (path.length * 3 < LONG ? undefined : encodeName(path)) : path;
  if (bytes === undefined || bytes.length < LONG) return fn(typeof path === 'string' ? fsPath(path) : path);
  const fds: number[] = [];
  try {
    let base = Buffer.alloc(0);
    let rest = bytes;
    while (base.length + rest.length >= LONG) {
      // Cut at the last '/' that keeps this piece short enough.
      const room = LONG - base.length;
      const cut = rest.lastIndexOf(0x2f, room);
      if (cut <= 0) {
        const e = new Error(`path component too long: ${displayName(decodeName(bytes.subarray(0, 80)))}…`) as NodeJS.ErrnoException;
        e.code = 'ENAMETOOLONG';
        throw e;
      }
      const fd = openSync(Buffer.concat([base, rest.subarray(0, cut)]), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      fds.push(fd);
      base = Buffer.from(`/proc/self/fd/${fd}/`);
      rest = rest.subarray(cut + 1);
    }
    return fn(Buffer.concat([base, rest]));
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** True when `path` needs onPath (so asynchronous calls must not be used on it). */
export function isLongPath(path: string): boolean {
  return path.length * 3 >= LONG && nameLength(path) >= LONG;
}
