// A backup.env reader that behaves like the shell files the proxsave family
// uses: KEY=value, `export` prefix, # comments, single quotes (literal), double
// quotes (escapes, ${VAR} expansion, may span lines for lists). It never runs
// anything: command substitution is rejected, not executed. An unquoted
// `\ ` or `\,` is also kept escaped for the glob list keys (listValue).
import type { Problem } from '../core/errors.ts';

export interface EnvEntry {
  key: string;
  value: string;
  /**
   * The value as a list of globs reads it (splitGlobs): a space, tab or comma
   * escaped with a backslash outside quotes keeps its backslash, so that
   * `CUSTOM_BACKUP_PATHS=/opt/my\ app` is one path as it is in quotes. Set
   * only when it differs from `value`.
   */
  listValue?: string;
  line: number;
}

export interface ParsedEnv {
  entries: EnvEntry[];
  problems: Problem[];
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `text`. `lookup` resolves ${VAR} for names not defined earlier in
 * the file (normally the process environment).
 */
export function parseEnv(text: string, file: string, lookup: (name: string) => string | undefined = () => undefined): ParsedEnv {
  const entries: EnvEntry[] = [];
  const problems: Problem[] = [];
  const defined = new Map<string, string>();
  const resolve = (name: string) => defined.get(name) ?? lookup(name);
  const src = text.replace(/\r\n/g, '\n');
  let i = 0;
  let line = 1;

  const fail = (message: string, key?: string, at = line) => problems.push({ file, line: at, ...(key ? { key } : {}), message });

  while (i < src.length) {
    // Skip blank space and comment lines.
    const lineStart = i;
    const eol = src.indexOf('\n', i) === -1 ? src.length : src.indexOf('\n', i);
    const raw = src.slice(i, eol);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = eol + 1;
      line++;
      continue;
    }
    const startLine = line;
    const body = raw.replace(/^\s*(export\s+)?/, '');
    const offset = raw.length - body.length;
    const eq = body.indexOf('=');
    if (eq <= 0) {
      fail(`expected KEY=value, found "${trimmed.slice(0, 60)}"`);
      i = eol + 1;
      line++;
      continue;
    }
    const key = body.slice(0, eq).trim();
    if (!KEY_RE.test(key) || body.slice(0, eq) !== key) {
      fail(`invalid key name "${body.slice(0, eq)}"`);
      i = eol + 1;
      line++;
      continue;
    }
    // Parse the value character by character from just after '='.
    let p = lineStart + offset + eq + 1;
    let value = '';
    // `value`, but an unquoted `\ ` `\<tab>` `\,` keeps its backslash.
    let listValue = '';
    let listDiffers = false;
    const add = (s: string) => {
      value += s;
      listValue += s;
    };
    let ok = true;
    /** Appends the expansion of the `$…` at `at`; returns where parsing goes on. */
    const expand = (at: number): number => {
      const r = expandAt(src, at, resolve);
      if (r.error) {
        fail(r.error, key, line);
        ok = false;
      }
      add(r.text);
      return r.end;
    };
    while (p < src.length && src[p] !== '\n') {
      const c = src[p]!;
      if (c === "'") {
        const close = src.indexOf("'", p + 1);
        if (close === -1) {
          fail('unterminated single quote', key, startLine);
          ok = false;
          p = src.length;
          break;
        }
        const chunk = src.slice(p + 1, close);
        line += countNewlines(chunk);
        add(chunk);
        p = close + 1;
      } else if (c === '"') {
        p++;
        let closed = false;
        while (p < src.length) {
          const d = src[p]!;
          if (d === '"') {
            closed = true;
            p++;
            break;
          }
          if (d === '\\' && p + 1 < src.length) {
            const n = src[p + 1]!;
            if (n === '\n') {
              line++;
              p += 2;
              continue;
            }
            add(n === 'n' ? '\n' : n === 't' ? '\t' : '"\\$`'.includes(n) ? n : '\\' + n);
            p += 2;
            continue;
          }
          if (d === '$') {
            p = expand(p);
            continue;
          }
          if (d === '`') {
            fail('command substitution is not allowed in backup.env', key, line);
            ok = false;
          }
          if (d === '\n') line++;
          add(d);
          p++;
        }
        if (!closed) {
          fail('unterminated double quote', key, startLine);
          ok = false;
          break;
        }
      } else if (c === '#' && (p === 0 || /\s/.test(src[p - 1]!))) {
        // Inline comment after unquoted whitespace.
        while (p < src.length && src[p] !== '\n') p++;
      } else if (c === '$') {
        p = expand(p);
      } else if (c === '`') {
        fail('command substitution is not allowed in backup.env', key, line);
        ok = false;
        p++;
      } else if (c === '\\' && p + 1 < src.length && src[p + 1] !== '\n') {
        const n = src[p + 1]!;
        value += n;
        if (n === ' ' || n === '\t' || n === ',') {
          listValue += '\\' + n;
          listDiffers = true;
        } else listValue += n;
        p += 2;
      } else {
        add(c);
        p++;
      }
    }
    // Unquoted trailing whitespace is not part of the value.
    value = value.replace(/[ \t]+$/, '');
    listValue = listValue.replace(/[ \t]+$/, '');
    if (ok) {
      entries.push({ key, value, ...(listDiffers ? { listValue } : {}), line: startLine });
      defined.set(key, value);
    }
    i = p + 1;
    line++;
  }
  return { entries, problems };
}

function countNewlines(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '\n') n++;
  return n;
}

/** Expands `$NAME`, `${NAME}` or `${NAME:-default}` starting at src[p] === '$'. */
function expandAt(src: string, p: number, resolve: (n: string) => string | undefined): { text: string; end: number; error?: string } {
  const next = src[p + 1];
  if (next === '(') return { text: '', end: p + 2, error: 'command substitution is not allowed in backup.env' };
  if (next === '{') {
    const close = src.indexOf('}', p + 2);
    if (close === -1) return { text: '', end: src.length, error: 'unterminated ${' };
    const inner = src.slice(p + 2, close);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::?-(.*))?$/s.exec(inner);
    if (!m) return { text: '', end: close + 1, error: `unsupported expansion \${${inner}}` };
    const v = resolve(m[1]!);
    // An unset variable without a default would silently become '' (a stray
    // SNAPSHOT_PATH, say): an error, like `set -u` in the shell.
    if (v === undefined && m[2] === undefined) return { text: '', end: close + 1, error: unsetMessage(m[1]!) };
    return { text: v === undefined || (v === '' && m[2] !== undefined) ? (m[2] ?? '') : v, end: close + 1 };
  }
  const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(p + 1, p + 200));
  if (!m) return { text: '$', end: p + 1 };
  const v = resolve(m[0]);
  if (v === undefined) return { text: '', end: p + 1 + m[0].length, error: unsetMessage(m[0]) };
  return { text: v, end: p + 1 + m[0].length };
}

function unsetMessage(name: string): string {
  return `\${${name}} is not set (define it earlier in the file or in the environment, or give a default: \${${name}:-value})`;
}
