// proxsave's command line: parse arguments, load the config, inject the
// capabilities (root, clock, process runner, reporter) and dispatch. The one
// top-level catch turns errors into exit codes (src/cli/exit-codes.ts).
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VERSION } from '../app/version.ts';
import { checkRootPrefix, loadConfig, type LoadedConfig } from '../config/load-config.ts';
import type { KeyName } from '../config/keys.ts';
import { ProblemsError, ProxsaveError, isProxsaveError } from '../core/errors.ts';
import { clockFromEnv } from '../ports/clock.ts';
import { EXIT, EXIT_CODES_HELP, exitCodeForError } from './exit-codes.ts';
import { createOutput, type Output, type OutputStream } from './output.ts';
import type { CommandEnv } from './command.ts';
import { COMMAND_NAMES, allCommands, loadCommand } from './commands/index.ts';

const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  root: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export const DEFAULT_CONFIG = '/etc/proxsave/backup.env';

export async function mainHelp(): Promise<string> {
  const cmds = (await allCommands())
    .map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`)
    .join('\n');
  return `proxsave ${VERSION}: configuration snapshots and backups for Proxmox VE and Proxmox Backup Server

Usage: proxsave [global options] <command> [options]
       proxsave help [<command>]

Commands:
${cmds}

Global options (before or after the command):
  -c, --config FILE   backup.env to use (default: $PROXSAVE_CONFIG, else ${DEFAULT_CONFIG} if present)
      --root DIR      back up the host under DIR (SYSTEM_ROOT_PREFIX)
      --json          machine-readable output on stdout
  -q, --quiet         only warnings and errors
  -v, --verbose       more detail
      --no-color      no colour (NO_COLOR is honoured too)
  -h, --help          help for proxsave or a command
      --version       print the version

${EXIT_CODES_HELP}
`;
}

/** Where the CLI writes; tests pass in-memory streams to run it in-process. */
export interface CliStreams {
  stdout: OutputStream;
  stderr: OutputStream;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, { stdout, stderr }: CliStreams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  // Global options may come before the command; the command word is the first positional.
  let out: Output = await createOutput({ env, noColor: argv.includes('--no-color'), json: argv.includes('--json'), stdout, stderr });
  try {
    const cmdIndex = findCommand(argv);
    const name = cmdIndex === -1 ? undefined : argv[cmdIndex]!;
    if (name === undefined) {
      if (argv.includes('--version')) {
        out.write(`proxsave ${VERSION}\n`);
        return EXIT.OK;
      }
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
        out.write(await mainHelp());
        return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
      }
      throw new ProxsaveError('USAGE', 'no command given', { hint: 'see proxsave --help' });
    }
    // `proxsave help CMD` is `proxsave CMD --help`.
    if (name === 'help') {
      // The first word after it that is not an option or an option's value (`help -c FILE run`).
      const after = argv.slice(cmdIndex + 1);
      const at = findCommand(after);
      const target = at === -1 ? undefined : after[at];
      return await main(target === undefined ? ['--help'] : [target, '--help'], env, { stdout, stderr });
    }
    const command = await loadCommand(name);
    if (!command) throw new ProxsaveError('USAGE', `unknown command "${name}"`, { hint: `commands: ${COMMAND_NAMES.join(', ')}` });
    const rest = [...argv.slice(0, cmdIndex), ...argv.slice(cmdIndex + 1)];
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new ProxsaveError('USAGE', `${name}: ${(e as Error).message.replace(/^TypeError[^:]*: /, '')}`, { hint: `see proxsave ${name} --help` });
    }
    const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (values.help) {
      out.write(`Usage: proxsave ${name} ${command.usage}\n\n${command.summary}\n${command.help ? '\n' + command.help + '\n' : ''}\n${EXIT_CODES_HELP}\n`);
      return EXIT.OK;
    }
    // Like --help, --version anywhere only prints: `restore … --apply --version` must not apply.
    if (values.version) {
      out.write(`proxsave ${VERSION}\n`);
      return EXIT.OK;
    }
    out = await createOutput({ env, json: values.json === true, quiet: values.quiet === true, verbose: values.verbose === true, noColor: values['no-color'] === true, stdout, stderr });
    const cmdEnv: CommandEnv = {
      name,
      args: parsed.positionals,
      values,
      out,
      env,
      loadConfig: () => loadEffectiveConfig(values, env, out),
      clock: () => clockFromEnv(env),
    };
    return await command.run(cmdEnv);
  } catch (e) {
    return report(e, out);
  }
}

function findCommand(argv: string[]): number {
  const withValue = new Set(['-c', '--config', '--root']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith('-')) return i;
  }
  return -1;
}

function loadEffectiveConfig(values: Record<string, unknown>, env: NodeJS.ProcessEnv, out: Output): LoadedConfig {
  const explicit = (values.config as string | undefined) ?? env.PROXSAVE_CONFIG;
  const file = explicit ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  const flags: Partial<Record<KeyName, { value: string; flag: string }>> = {};
  if (typeof values.root === 'string') flags.SYSTEM_ROOT_PREFIX = { value: values.root, flag: '--root' };
  const loaded = loadConfig({ file, env, flags });
  for (const w of loaded.warnings) out.reporter.log('warn', w);
  checkRootPrefix(loaded);
  return loaded;
}

/**
 * The path of one of proxsave's own files that Node could not load, when
 * that is what `e` is. The packaged program loads its parts as a command
 * needs them, so a package upgraded or removed under a running command
 * shows up like this.
 */
function missingOwnFile(e: unknown): string | undefined {
  if (!(e instanceof Error) || (e as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  const m = /^Cannot find module '([^']+)'/.exec(e.message);
  const file = m?.[1];
  return file && file.startsWith('/') && !file.includes('/node_modules/') ? file : undefined;
}

function report(e: unknown, out: Output): number {
  const code = exitCodeForError(e);
  out.clearProgress();
  const missing = missingOwnFile(e);
  if (missing) {
    const message = `a file of proxsave is missing: ${missing}`;
    const hint = 'proxsave was probably upgraded or removed while this command ran: run it again (reinstall proxsave if this persists)';
    out.err(`${out.paint.red('error:')} ${message}`);
    out.err(`${out.paint.dim('hint:')} ${hint}`);
    if (out.json) out.emit({ error: { code: 'INSTALLATION', message, hint }, exit_code: code });
  } else if (isProxsaveError(e)) {
    if (out.json) {
      out.emit({ error: { code: e.code, message: e.message, ...(e instanceof ProblemsError ? { problems: e.problems } : {}), ...(e.hint ? { hint: e.hint } : {}) }, exit_code: code });
    }
    const lines = e.message.split('\n');
    for (const l of lines) out.err(`${out.paint.red('error:')} ${l}`);
    if (e.hint) out.err(`${out.paint.dim('hint:')} ${e.hint}`);
    if (out.verbose && e.cause instanceof Error) out.err(String(e.cause.stack ?? e.cause));
  } else {
    // A bug: show everything.
    out.err(`${out.paint.red('internal error:')} ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    out.err('please report this with the command you ran and proxsave --version');
    if (out.json) out.emit({ error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) }, exit_code: code });
  }
  return code;
}
