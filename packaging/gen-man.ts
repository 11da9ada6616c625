// proxsave(1), generated from the same text as `proxsave --help`, each
// command's --help, the exit codes and the configuration key table, so the
// man page cannot drift from the program.
import { allCommands } from '../src/cli/commands/index.ts';
import { EXIT_CODES_HELP } from '../src/cli/exit-codes.ts';
import { mainHelp } from '../src/cli/main.ts';
import { KEYS, type KeyDef } from '../src/config/keys.ts';

function esc(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** A block of preformatted help text, kept as it is laid out in --help. */
function verbatim(text: string): string {
  return `.PP\n.nf\n.RS 2\n${esc(text.replace(/\s+$/, ''))}\n.RE\n.fi`;
}

function allowed(d: KeyDef): string {
  const t = d.type;
  if (t.kind === 'bool') return 'true | false';
  if (t.kind === 'int' || t.kind === 'number') return `${t.min} to ${t.max}`;
  if (t.kind === 'enum') return [...t.values, ...Object.keys(t.aliases ?? {})].join(' | ');
  return t.kind;
}

export async function renderMan({ version, date }: { version: string; date: string }): Promise<string> {
  const help = await mainHelp();
  const globalBlock = /Global options[^\n]*\n([\s\S]*?)\n\n/.exec(help)?.[1] ?? '';
  const out: string[] = [];
  out.push(`.TH PROXSAVE 1 "${date}" "proxsave ${version}" "User Commands"`);
  out.push('.SH NAME', 'proxsave \\- configuration snapshots and backups for Proxmox VE and Proxmox Backup Server');
  out.push('.SH SYNOPSIS', '.B proxsave', '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]');
  out.push(
    '.SH DESCRIPTION',
    esc('proxsave gathers the configuration of the host (files and command outputs, described by the task files) into a git repository and commits only when something changed, so the history is a record of configuration drift. Each commit can be exported as a verified, compressed archive with a manifest and copied to local, secondary and cloud (rclone) targets with retention. `proxsave run` is the scheduled job.'),
  );
  out.push('.SH COMMANDS');
  for (const [name, c] of await allCommands()) {
    out.push('.TP', `.B proxsave ${esc(name)}${c.usage ? ` ${esc(c.usage)}` : ''}`, esc(c.summary));
    if (c.help) out.push(verbatim(c.help));
  }
  out.push('.SH GLOBAL OPTIONS', verbatim(globalBlock));
  out.push('.SH EXIT STATUS', verbatim(EXIT_CODES_HELP.replace(/^Exit codes:\n/, '')));
  out.push('.SH CONFIGURATION', esc('KEY=value lines in /etc/proxsave/backup.env (or -c FILE, or $PROXSAVE_CONFIG). Precedence: command-line flag, environment, file, default. Unknown keys are warnings. Check a file with `proxsave config check`.'));
  let section = '';
  for (const [k, d] of Object.entries(KEYS) as [string, KeyDef][]) {
    if (d.section !== section) {
      section = d.section;
      out.push(`.SS ${esc(section)}`);
    }
    out.push('.TP', `.B ${esc(k)}`, `${esc(d.doc)} Default: \\fB${esc(d.default === '' ? '(empty)' : d.default)}\\fR; allowed: ${esc(allowed(d))}.${d.secret ? ' Secret: shown masked.' : ''}`);
  }
  out.push(
    '.SH FILES',
    '.TP', '.I /etc/proxsave/backup.env', 'configuration (mode 0600)',
    '.TP', '.I /usr/share/proxsave/tasks/', 'the task catalogue (TASKS_PATH empty)',
    '.TP', '.I /var/lib/proxsave/snapshots', 'the snapshot repository (SNAPSHOT_PATH)',
    '.TP', '.I /var/lib/proxsave/backup', 'archives (BACKUP_PATH)',
    '.TP', '.I /var/log/proxsave', 'run reports and logs (LOG_PATH)',
    '.TP', '.I proxsave.service, proxsave.timer', 'the scheduled job (proxsave schedule install)',
  );
  out.push(
    '.SH SECURITY',
    esc('The snapshot repository, the archives and a fleet remote (SNAPSHOT_REMOTE) hold secrets: private keys, corosync authkey, token and password hashes. proxsave keeps them 0700/0600 and masks them in diffs, logs and notifications, but anyone who can read the repository or the remote can read them. Use a private remote over TLS with a token limited to that one repository.'),
  );
  out.push('.SH SEE ALSO', '.BR git (1),', '.BR systemd.timer (5),', '.BR rclone (1),', '.BR pvesh (1)');
  return out.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await renderMan({ version: process.argv[2] ?? '0', date: new Date().toISOString().slice(0, 10) }));
