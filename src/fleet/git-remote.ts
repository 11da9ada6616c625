// The git CLI against SNAPSHOT_REMOTE. Credentials for HTTP(S) travel in
// the environment (GIT_CONFIG_* → http.extraHeader), never on the command
// line (visible in ps) nor in a stored remote URL; messages name the URL
// without them.
import { delimiter } from 'node:path';
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';

export interface GitResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** The remote URL with any user:password@ removed, for messages. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]+@/i, '$1');
}

export function isHttpRemote(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

export function remoteEnv(config: Pick<Config, 'SNAPSHOT_REMOTE' | 'SNAPSHOT_REMOTE_TOKEN' | 'SNAPSHOT_REMOTE_USER' | 'COMMAND_PATH'>, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...env,
    PATH: [...config.COMMAND_PATH, env.PATH ?? '/usr/bin:/bin'].join(delimiter),
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    LC_ALL: 'C',
    // Non-interactive SSH: fail instead of asking about host keys or passwords.
    GIT_SSH_COMMAND: env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes',
  };
  if (isHttpRemote(config.SNAPSHOT_REMOTE) && config.SNAPSHOT_REMOTE_TOKEN) {
    const header = config.SNAPSHOT_REMOTE_USER
      ? `Authorization: Basic ${Buffer.from(`${config.SNAPSHOT_REMOTE_USER}:${config.SNAPSHOT_REMOTE_TOKEN}`).toString('base64')}`
      : `Authorization: Bearer ${config.SNAPSHOT_REMOTE_TOKEN}`;
    out.GIT_CONFIG_COUNT = '1';
    out.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    out.GIT_CONFIG_VALUE_0 = header;
  }
  return out;
}

export async function gitRun({ args, env, cwd, timeoutMs = 300_000, secrets = [] }: { args: string[]; env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; secrets?: string[] }): Promise<GitResult> {
  const { execa } = await import('execa');
  const r = await execa('git', args, { env, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore', stripFinalNewline: false, ...(cwd ? { cwd } : {}) });
  if ((r as { code?: string }).code === 'ENOENT') throw new ProxsaveError('BACKUP', 'git is not installed', { hint: 'apt-get install git (needed for SNAPSHOT_REMOTE and proxsave fleet)' });
  let stderr = String(r.stderr ?? '');
  for (const s of secrets) if (s) stderr = stderr.split(s).join('********');
  if (r.timedOut) stderr = `timed out after ${timeoutMs / 1000} s. ${stderr}`;
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: displayUrl(stderr.trim()) };
}

export function lastLines(s: string, n = 3): string {
  return s.split('\n').filter(Boolean).slice(-n).join(' / ');
}
