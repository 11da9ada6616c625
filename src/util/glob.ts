// Globs against absolute host paths: `*` and `?` stay within one path
// segment, `**` crosses segments, `{a,b}` alternates, `[...]` is a class
// (`[!...]` its complement, a `]` first in it is literal, so `[*]`, `[?]`,
// `[[]` and `[]]` match those characters). A backslash is an ordinary
// character: systemd writes names such as `dev-disk-by\x2duuid.swap`. Only
// in a list of globs (splitGlobs) does a backslash before a space, a tab or
// a comma keep that character in its glob.
import { ProxsaveError } from '../core/errors.ts';

const cache = new Map<string, RegExp>();

/** Where the class opened at `open` closes, or -1 (a `]` right after `[` or `[!` is a member). */
function classEnd(glob: string, open: number): number {
  let j = open + 1;
  if (glob[j] === '!') j++;
  if (glob[j] === ']') j++;
  return glob.indexOf(']', j);
}

/** What is wrong with `glob`, or undefined: an unclosed `{`, a class range written backwards. */
export function globProblem(glob: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '[') {
      const close = classEnd(glob, i);
      if (close === -1) continue;
      const body = glob.slice(glob[i + 1] === '!' ? i + 2 : i + 1, close);
      for (let k = 0; k + 2 < body.length; k++) {
        if (body[k + 1] === '-' && body.charCodeAt(k) > body.charCodeAt(k + 2)) return `the range ${body.slice(k, k + 3)} in [${body}] is backwards`;
      }
      i = close;
    } else if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
  }
  return depth > 0 ? 'a { is not closed' : undefined;
}

/**
 * Where a bracket expression opened at `open` in a list of globs closes, or -1
 * when that `[` is an ordinary character. As in the glob itself, but a class
 * never spans a `/` or a line: `/srv/a[ /srv/b]` is still two globs.
 */
function listClassEnd(text: string, open: number): number {
  const close = classEnd(text, open);
  return close === -1 || /[/\n]/.test(text.slice(open + 1, close)) ? -1 : close;
}

/**
 * Globs separated by whitespace or commas. These stay in their glob: a comma
 * inside braces (`{a,b}`), whitespace or a comma inside a bracket expression
 * (`/opt/my[ ]app`), and a space, tab or comma escaped with a backslash
 * (`/opt/my\ app`, `/srv/a\,b`), which becomes that character itself (an
 * escaped comma inside braces is a literal comma, not an alternative). Any
 * other backslash is an ordinary character.
 */
export function splitGlobs(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && /[ \t,]/.test(text[i + 1]!)) {
      const e = text[++i]!;
      cur += e === ',' && depth > 0 ? '[,]' : e;
      continue;
    }
    if (c === '[') {
      const close = listClassEnd(text, i);
      if (close !== -1) {
        cur += text.slice(i, close + 1);
        i = close;
        continue;
      }
    }
    if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    if (/\s/.test(c) || (c === ',' && depth === 0)) {
      if (cur !== '') out.push(cur);
      cur = '';
      depth = 0;
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** The list splitGlobs reads back as `globs`: a space, tab or comma that would split is escaped. */
export function joinGlobs(globs: readonly string[]): string {
  return globs
    .map((g) => {
      let out = '';
      let depth = 0;
      for (let i = 0; i < g.length; i++) {
        const c = g[i]!;
        if (c === '[') {
          const close = listClassEnd(g, i);
          if (close !== -1) {
            out += g.slice(i, close + 1);
            i = close;
            continue;
          }
        }
        if (c === '{') depth++;
        else if (c === '}' && depth > 0) depth--;
        out += c === ' ' || c === '\t' || (c === ',' && depth === 0) ? '\\' + c : c;
      }
      return out;
    })
    .join(' ');
}

/** `glob` as an anchored RegExp; a malformed glob is a CONFIG error (exit 2) naming it. */
export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
  const problem = globProblem(glob);
  if (problem) throw new ProxsaveError('CONFIG', `malformed glob ${JSON.stringify(glob)}: ${problem}`, { hint: 'to match a glob character itself put it in brackets: [*] [?] [[] [{]' });
  let re = '';
  let i = 0;
  let depth = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `/**/` matches one or more segments boundaries, `/**` at the end everything below.
        const slashAfter = glob[i + 2] === '/';
        re += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 3 : 2;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = classEnd(glob, i);
      if (close === -1) re += '\\[';
      else {
        const negated = glob[i + 1] === '!';
        // Inside a JS class \ and ] are escaped (a leading ^ negates, as in bash).
        const cls = glob.slice(negated ? i + 2 : i + 1, close).replace(/[\\\]]/g, '\\$&');
        re += `[${negated ? '^' : ''}${cls}]`;
        i = close;
      }
    } else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else re += c.replace(/[.+^$()|\\/]/g, '\\$&');
    i++;
  }
  let out: RegExp;
  try {
    out = new RegExp(`^${re}$`);
  } catch (e) {
    throw new ProxsaveError('CONFIG', `malformed glob ${JSON.stringify(glob)}: ${(e as Error).message}`, { cause: e });
  }
  cache.set(glob, out);
  return out;
}

export function hasGlob(s: string): boolean {
  return /[*?[{]/.test(s);
}

/** True when `path` or one of its ancestors matches one of `globs`. */
export function matchesAny(path: string, globs: readonly string[]): boolean {
  if (globs.length === 0) return false;
  for (const g of globs) {
    const re = globToRegExp(g);
    if (re.test(path)) return true;
  }
  return false;
}

/** The literal directory a glob starts from: "/etc/pve/nodes/*\/qemu-server" → "/etc/pve/nodes". */
export function globBase(glob: string): string {
  const parts = glob.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (hasGlob(p)) break;
    out.push(p);
  }
  return out.join('/') || '/';
}
