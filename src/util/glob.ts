// Globs against absolute host paths: `*` and `?` stay within one path
// segment, `**` crosses segments, `{a,b}` alternates, `[...]` is a class.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
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
      const close = glob.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let cls = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
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
  const out = new RegExp(`^${re}$`);
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
