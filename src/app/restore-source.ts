// Opening what `proxsave restore` reads: --rev (git), an ARCHIVE file, or a
// target's archive (--latest / --archive NAME). Archives are verified first
// (sidecar, decompression, tar, manifest); cloud ones are downloaded into a
// private temporary directory before that.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArchiveName } from '../archive/archive-name.ts';
import type { Manifest } from '../archive/manifest.ts';
import type { Config } from '../config/keys.ts';
import { ProxsaveError } from '../core/errors.ts';
import { silentReporter, type Reporter } from '../ports/reporter.ts';
import { archiveSource, commitSource, type Decrypter, type EntrySource } from '../restore/sources.ts';
import { canonicalHostname } from '../storage/archive-name.ts';
import { Rclone } from '../storage/rclone.ts';
import type { Target, TargetKind } from '../storage/target.ts';
import { createTargets } from '../storage/targets.ts';
import { verifyArchive } from './verify.ts';

export interface SourceInfo {
  /** What was opened, for messages: `commit abc123`, an archive path. */
  label: string;
  hostname: string;
  role: string;
  cluster: boolean | undefined;
  pveVersion: string | null;
  pbsVersion: string | null;
  commit: string | null;
}

export interface OpenedSource {
  info: SourceInfo;
  entries: EntrySource;
  /** Removes downloaded copies. */
  cleanup(): Promise<void>;
}

export interface SourceOptions {
  config: Config;
  rev?: string;
  archive?: string;
  target?: TargetKind;
  latest?: boolean;
  archiveName?: string;
  /** This host's name (for --latest). */
  hostname: string;
  reporter?: Reporter;
  env?: NodeJS.ProcessEnv;
  /** Decryption for .age archives, built by the caller from AGE_IDENTITY_FILE. */
  decrypter?: (archivePath: string) => Decrypter | undefined;
}

function infoFromManifest(label: string, m: Manifest): SourceInfo {
  return {
    label,
    hostname: m.hostname,
    role: m.proxmox_type,
    cluster: m.cluster_mode === 'cluster',
    pveVersion: m.pve_version,
    pbsVersion: m.pbs_version,
    commit: m.snapshot_commit,
  };
}

async function openArchive(archivePath: string, o: SourceOptions, cleanup: () => Promise<void>): Promise<OpenedSource> {
  const decrypt = o.decrypter?.(archivePath);
  const v = await verifyArchive({ archivePath, reporter: o.reporter ?? silentReporter, ...(decrypt ? { decrypt } : {}) });
  if (!v.ok || !v.manifest) {
    await cleanup();
    throw new ProxsaveError('VERIFY', `${archivePath} does not verify, nothing was restored:\n  ${v.problems.join('\n  ')}`);
  }
  return { info: infoFromManifest(archivePath, v.manifest), entries: archiveSource({ path: archivePath, ...(decrypt ? { decrypt } : {}) }), cleanup };
}

/** The newest complete archive of this host on a target. */
async function latestOn(t: Target, hostname: string): Promise<string> {
  const mine = (await t.list()).filter((a) => a.complete && canonicalHostname(parseArchiveName(a.name)?.hostname ?? '') === canonicalHostname(hostname));
  mine.sort((a, b) => parseArchiveName(a.name)!.time.getTime() - parseArchiveName(b.name)!.time.getTime() || (a.name < b.name ? -1 : 1));
  const last = mine.at(-1);
  if (!last) throw new ProxsaveError('NOT_FOUND', `no complete archive of ${hostname} on the ${t.kind} target (${t.location})`);
  return last.name;
}

export function findTarget(config: Config, kind: TargetKind, reporter: Reporter, env?: NodeJS.ProcessEnv): Target {
  const t = createTargets(config, { reporter, ...(env ? { env } : {}) }).find((x) => x.kind === kind);
  if (!t) throw new ProxsaveError('USAGE', `the ${kind} target is not enabled in the configuration`, { hint: kind === 'cloud' ? 'set CLOUD_ENABLED=true, CLOUD_REMOTE and CLOUD_REMOTE_PATH' : 'set SECONDARY_ENABLED=true and SECONDARY_PATH' });
  return t;
}

export function rcloneFor(config: Config, reporter: Reporter, env?: NodeJS.ProcessEnv): { rclone: Rclone; remotePath(file: string): string } {
  const rclone = new Rclone({
    configPath: config.RCLONE_CONFIG,
    connectTimeoutS: config.RCLONE_TIMEOUT_CONNECTION,
    operationTimeoutS: config.RCLONE_TIMEOUT_OPERATION,
    retries: config.RCLONE_RETRIES,
    bandwidthLimit: config.RCLONE_BANDWIDTH_LIMIT,
    flags: config.RCLONE_FLAGS,
    reporter,
    ...(env ? { env } : {}),
  });
  const remote = config.CLOUD_REMOTE.replace(/:$/, '');
  const dir = config.CLOUD_REMOTE_PATH.replace(/^\/+(?=.)/, '').replace(/\/+$/, '');
  return { rclone, remotePath: (file) => (dir ? `${remote}:${dir}/${file}` : `${remote}:${file}`) };
}

/** Downloads an archive and its sidecars into a new 0700 temp dir. */
export async function downloadArchive(config: Config, name: string, reporter: Reporter, env?: NodeJS.ProcessEnv): Promise<{ path: string; cleanup(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxsave-restore-'));
  fs.chmodSync(dir, 0o700);
  const cleanup = () => fs.promises.rm(dir, { recursive: true, force: true });
  try {
    const { rclone, remotePath } = rcloneFor(config, reporter, env);
    for (const f of [name, `${name}.sha256`, `${name}.manifest.json`]) await rclone.run(['copyto', remotePath(f), path.join(dir, f)]);
    return { path: path.join(dir, name), cleanup };
  } catch (e) {
    await cleanup();
    throw new ProxsaveError('CLOUD', `downloading ${name} from ${config.CLOUD_REMOTE}: ${(e as Error).message}`, { cause: e });
  }
}

export async function openSource(o: SourceOptions): Promise<OpenedSource> {
  const reporter = o.reporter ?? silentReporter;
  const none = async () => {};
  if (o.rev !== undefined) {
    const c = await commitSource({ repoDir: o.config.SNAPSHOT_PATH, rev: o.rev });
    const t = c.trailers;
    return {
      info: {
        label: `commit ${c.oid.slice(0, 12)}`,
        hostname: t.get('proxsave-host') ?? 'unknown-host',
        role: (t.get('proxsave-role') ?? 'unknown').toLowerCase(),
        cluster: t.has('proxsave-cluster') ? t.get('proxsave-cluster')!.toLowerCase() === 'true' : undefined,
        pveVersion: t.get('proxsave-pve-version') || null,
        pbsVersion: t.get('proxsave-pbs-version') || null,
        commit: c.oid,
      },
      entries: c.entries,
      cleanup: none,
    };
  }
  if (o.archive !== undefined) return openArchive(path.resolve(o.archive), o, none);
  if (o.target === undefined) throw new ProxsaveError('USAGE', 'restore: give --rev REV, an ARCHIVE, or --target T with --latest or --archive NAME');
  const t = findTarget(o.config, o.target, reporter, o.env);
  const name = o.latest ? await latestOn(t, o.hostname) : o.archiveName;
  if (!name) throw new ProxsaveError('USAGE', 'restore --target: give --latest or --archive NAME');
  if (name.includes('/') || !parseArchiveName(name)) throw new ProxsaveError('USAGE', `--archive ${JSON.stringify(name)} is not an archive name`);
  reporter.log('info', `restoring ${name} from the ${t.kind} target (${t.location})`);
  if (t.kind === 'cloud') {
    const d = await downloadArchive(o.config, name, reporter, o.env);
    return openArchive(d.path, o, d.cleanup);
  }
  return openArchive(path.join(t.location, name), o, none);
}
