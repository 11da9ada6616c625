// Generates configs/backup.env from src/config/keys.ts, so the documented
// template can never drift from what the parser accepts:
//   node --import tsx scripts/gen-config-template.ts > configs/backup.env
// test/config/template.test.ts fails when the two differ.
import { KEYS, type KeyDef } from '../src/config/keys.ts';

const EXAMPLES: Record<string, string> = {
  BACKUP_EXCLUDE_PATTERNS: `# Example (a quoted block may span lines):
# BACKUP_EXCLUDE_PATTERNS="
#   /etc/pve/nodes/*/lrm_status
#   /etc/ssl/certs/**
# "`,
  CUSTOM_BACKUP_PATHS: '# Example: CUSTOM_BACKUP_PATHS="/opt/scripts /etc/nginx /opt/my\\ app"',
};

export function renderTemplate(): string {
const out: string[] = [];
out.push(`# proxsave configuration (backup.env)
#
# KEY=value lines. '#' starts a comment. Values may be quoted: "double quotes"
# expand \${VAR} and may span several lines (for lists), 'single quotes' are
# literal. Unknown keys are warned about and ignored. Precedence, highest
# first: command-line flag, environment variable, this file, the default.
# Relative paths are relative to the directory of this file; ~ is not
# expanded (a path starting with ~ is refused: write /root/...).
# Check a file with: proxsave config check -c /etc/proxsave/backup.env
#
# Every key is listed below with its default value.
`);
let section = '';
for (const [k, d] of Object.entries(KEYS) as [string, KeyDef][]) {
  if (d.section !== section) { section = d.section; out.push(`\n# ---------------------------------------------------------------- ${section}\n`); }
  const t = d.type;
  const allowed = t.kind === 'bool' ? 'true | false' : t.kind === 'int' || t.kind === 'number' ? `${t.min} to ${t.max}` : t.kind === 'enum' ? [...t.values, ...Object.keys(t.aliases ?? {})].join(' | ') : t.kind === 'size' ? `at least ${t.min} ${t.min === 1 ? 'byte' : 'bytes'}: bytes, or a number with K, M, G, T` : t.kind === 'list' ? 'a list: separated by spaces, commas or newlines' : t.kind === 'globlist' ? 'globs (* ? ** {a,b} [...]) separated by spaces, commas or newlines; a space or comma that is part of a path is written \\  or [ ], \\, or [,]' : t.kind === 'pathlist' ? 'directories separated by spaces, commas or colons' : t.kind === 'path' ? 'a path' : 'text';
  out.push(`# ${d.doc}`);
  out.push(`# Allowed: ${allowed}.${d.aliases ? ` Also accepted as: ${d.aliases.join(', ')}.` : ''}`);
  if (EXAMPLES[k]) out.push(EXAMPLES[k]!);
  out.push(`${k}=${/[\s#"']/.test(d.default) || d.default === '' ? `"${d.default}"` : d.default}\n`);
}
return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderTemplate());
