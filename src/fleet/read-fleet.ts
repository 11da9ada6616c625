// `proxsave fleet`: read the history that many hosts pushed to one remote.
// The remote is fetched into a private bare cache (FLEET_CACHE_PATH, 0700);
// every read is then local. Secret paths (each tip's .proxsave/secrets) are
// never shown: a differing secret is reported as such, masked.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import { SECRETS_PATH } from '../snapshot/head-state.ts';
import { displayUrl, gitRun, lastLines, remoteEnv } from './git-remote.ts';
import { hostBranch } from './push-history.ts';

export interface FleetHost {
  host: string;
  commit: string;
  date: string;
  summary: string;
}

export interface Fleet {
  cache: string;
  git(args: string[]): Promise<string>;
}

/** Fetches every hosts/* branch of SNAPSHOT_REMOTE into the cache (refs/hosts/*). */
export async function fetchFleet({ config, env = process.env, offline = false }: { config: Config; env?: NodeJS.ProcessEnv; offline?: boolean }): Promise<Fleet> {
  if (!config.SNAPSHOT_REMOTE) throw new ProxsaveError('CONFIG', 'fleet: SNAPSHOT_REMOTE is not set', { hint: 'set SNAPSHOT_REMOTE in backup.env to the git remote the hosts push to' });
  const cache = config.FLEET_CACHE_PATH;
  const genv = remoteEnv(config, env);
  const secrets = [config.SNAPSHOT_REMOTE_TOKEN];
  const git = async (args: string[]) => {
    const r = await gitRun({ args: ['--git-dir', cache, ...args], env: genv, secrets });
    if (r.exitCode !== 0) throw new ProxsaveError('BACKUP', `fleet: git ${args[0]} failed: ${lastLines(r.stderr)}`);
    return r.stdout;
  };
  if (!existsSync(cache)) {
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    await git(['init', '--bare', '--quiet']);
  }
  chmodSync(cache, 0o700);
  if (!offline) {
    const r = await gitRun({ args: ['--git-dir', cache, 'fetch', '--prune', '--quiet', '--no-tags', config.SNAPSHOT_REMOTE, '+refs/heads/hosts/*:refs/hosts/*'], env: genv, secrets });
    if (r.exitCode !== 0) throw new ProxsaveError('CLOUD', `fleet: cannot fetch ${displayUrl(config.SNAPSHOT_REMOTE)}: ${lastLines(r.stderr)}`, { hint: 'check SNAPSHOT_REMOTE, SNAPSHOT_REMOTE_TOKEN and the network' });
  }
  return { cache, git };
}

export async function fleetHosts(f: Fleet): Promise<FleetHost[]> {
  const out = await f.git(['for-each-ref', '--format=%(refname:strip=2)%09%(objectname)%09%(committerdate:iso-strict)%09%(subject)', 'refs/hosts/']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [host, commit, date, ...s] = l.split('\t');
      return { host: host!, commit: commit!, date: date!, summary: s.join('\t') };
    });
}

function refOf(hosts: FleetHost[], host: string): string {
  const name = hostBranch(host).slice('hosts/'.length);
  if (!hosts.some((h) => h.host === name)) throw new ProxsaveError('NOT_FOUND', `fleet: no host "${host}" on the remote`, { hint: `hosts: ${hosts.map((h) => h.host).join(', ') || 'none yet'}` });
  return `refs/hosts/${name}`;
}

export interface FleetLogEntry {
  host: string;
  commit: string;
  date: string;
  summary: string;
}

export async function fleetLog(f: Fleet, { host, max = 20 }: { host?: string; max?: number }): Promise<FleetLogEntry[]> {
  const hosts = await fleetHosts(f);
  if (hosts.length === 0) return [];
  const refs = host ? [refOf(hosts, host)] : hosts.map((h) => `refs/hosts/${h.host}`);
  const out = await f.git(['log', '--source', '--date-order', `-n${max}`, '--format=%H%x09%cI%x09%S%x09%s', ...refs, '--']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [commit, date, src, ...s] = l.split('\t');
      return { host: host ? hostBranch(host).slice(6) : src!.replace(/^refs\/hosts\//, ''), commit: commit!, date: date!, summary: s.join('\t') };
    });
}

export interface FleetDiff {
  a: { host: string; commit: string };
  b: { host: string; commit: string };
  files: { path: string; status: string; secret: boolean }[];
  /** Unified diff of the non-secret files. */
  patch: string;
}

async function secretsAt(f: Fleet, ref: string): Promise<Set<string>> {
  try {
    return new Set((await f.git(['show', `${ref}:${SECRETS_PATH}`])).split('\n').filter((l) => l !== '' && !l.startsWith('#')));
  } catch {
    return new Set();
  }
}

export async function fleetDiff(f: Fleet, { hostA, hostB, path }: { hostA: string; hostB: string; path?: string }): Promise<FleetDiff> {
  const hosts = await fleetHosts(f);
  const [ra, rb] = [refOf(hosts, hostA), refOf(hosts, hostB)];
  const spec = path ? [path.replace(/^\/+/, '')] : [];
  const secrets = new Set([...(await secretsAt(f, ra)), ...(await secretsAt(f, rb))]);
  const status = await f.git(['diff', '--no-renames', '--name-status', '-z', ra, rb, '--', ...spec]);
  const parts = status.split('\0').filter(Boolean);
  const files: FleetDiff['files'] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const st = parts[i]!;
    const p = parts[i + 1]!;
    files.push({ path: p, status: st === 'A' ? 'added' : st === 'D' ? 'deleted' : 'modified', secret: secrets.has(p) });
  }
  const shown = files.filter((x) => !x.secret).map((x) => x.path);
  // Literal pathspecs: a collected file may be called '*.conf'.
  const patch = shown.length ? await f.git(['--literal-pathspecs', 'diff', '--no-renames', '--no-color', ra, rb, '--', ...shown]) : '';
  const masked = files.filter((x) => x.secret).map((x) => `diff --proxsave a/${x.path} b/${x.path}\n(secret: contents differ, masked)\n`).join('');
  const tip = (h: string) => hosts.find((x) => x.host === hostBranch(h).slice(6))!.commit;
  return { a: { host: hostA, commit: tip(hostA) }, b: { host: hostB, commit: tip(hostB) }, files, patch: patch + masked };
}
