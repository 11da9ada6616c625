// `when:` expressions: identifiers (facts such as pve, clustered, zfs, or
// BACKUP_* toggles), `and`, `or`, `not` and parentheses. Parsed once when the
// task files load so a typo is a load error, not a silent skip.

export type Expr = { kind: 'id'; name: string } | { kind: 'not'; e: Expr } | { kind: 'and' | 'or'; a: Expr; b: Expr };

export class ConditionError extends Error {}

export function parseCondition(src: string, known: ReadonlySet<string>): Expr {
  const tokens = src.match(/\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = () => tokens[i++];
  const orExpr = (): Expr => {
    let a = andExpr();
    while (peek() === 'or') {
      take();
      a = { kind: 'or', a, b: andExpr() };
    }
    return a;
  };
  const andExpr = (): Expr => {
    let a = unary();
    while (peek() === 'and') {
      take();
      a = { kind: 'and', a, b: unary() };
    }
    return a;
  };
  const unary = (): Expr => {
    const t = take();
    if (t === undefined) throw new ConditionError('unexpected end of condition');
    if (t === 'not') return { kind: 'not', e: unary() };
    if (t === '(') {
      const e = orExpr();
      if (take() !== ')') throw new ConditionError('missing )');
      return e;
    }
    if (!/^[A-Za-z_]\w*$/.test(t) || t === 'and' || t === 'or') throw new ConditionError(`unexpected "${t}"`);
    if (!known.has(t)) throw new ConditionError(`unknown name "${t}" (known: ${[...known].filter((k) => !k.startsWith('BACKUP_')).join(', ')}, or a BACKUP_* key)`);
    return { kind: 'id', name: t };
  };
  const e = orExpr();
  if (i < tokens.length) throw new ConditionError(`unexpected "${tokens[i]}"`);
  return e;
}

export function evaluate(e: Expr, values: (name: string) => boolean): boolean {
  switch (e.kind) {
    case 'id':
      return values(e.name);
    case 'not':
      return !evaluate(e.e, values);
    case 'and':
      return evaluate(e.a, values) && evaluate(e.b, values);
    case 'or':
      return evaluate(e.a, values) || evaluate(e.b, values);
  }
}

/** Names in `e` that are false under `values` and make it false (for skip reasons). */
export function explain(src: string, e: Expr, values: (name: string) => boolean): string {
  return `${src} is false (${collect(e)
    .map((n) => `${n}=${values(n)}`)
    .join(', ')})`;
}

function collect(e: Expr, out: string[] = []): string[] {
  if (e.kind === 'id') {
    if (!out.includes(e.name)) out.push(e.name);
  } else if (e.kind === 'not') collect(e.e, out);
  else {
    collect(e.a, out);
    collect(e.b, out);
  }
  return out;
}
