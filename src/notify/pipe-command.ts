// Runs one command with text on its stdin (sendmail, proxmox-mail-forward).
// Like the task runner: argv only, COMMAND_PATH first, a timeout that kills it.
import { delimiter } from 'node:path';

export interface PipeResult {
  exitCode: number | undefined;
  stderr: string;
  notFound: boolean;
  timedOut: boolean;
}

export async function pipeCommand({ argv, input, pathPrefix = [], env = process.env, timeoutMs = 60_000 }: { argv: string[]; input: string; pathPrefix?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<PipeResult> {
  const { execa } = await import('execa');
  // sendmail lives in /usr/sbin, proxmox-mail-forward in /usr/bin; cron's PATH has neither sbin.
  const given = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const path = [...pathPrefix, ...given, ...['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/lib'].filter((d) => !given.includes(d))].join(delimiter);
  const r = await execa(argv[0]!, argv.slice(1), { input, env: { ...env, PATH: path }, extendEnv: false, reject: false, timeout: timeoutMs, stripFinalNewline: true });
  const notFound = (r as { code?: string }).code === 'ENOENT';
  return { exitCode: r.exitCode, stderr: String(r.stderr ?? '').trim(), notFound, timedOut: r.timedOut === true };
}
