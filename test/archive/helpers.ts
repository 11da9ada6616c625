// Snapshot repositories for the archive tests, built with the real git CLI.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/temp-dir.ts';
import { formatMetadata, type MetaEntry } from '../../src/snapshot/read-metadata.ts';

/** A fresh temporary directory's path (the suite's one helper, test/helpers/temp-dir.ts). */
export const tmpDir = (prefix = 'proxsave-archive-'): string => tempDir(prefix).path;

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, input: opts.input, maxBuffer: 1 << 28 }).toString('utf8');
}

export interface FileSpec {
  content?: string | Buffer;
  symlink?: string;
  exec?: boolean;
}

export const TRAILERS = [
  'Proxsave-Host: pve1',
  'Proxsave-Version: 0.1.0',
  'Proxsave-Role: pve',
  'Proxsave-Cluster: true',
  'Proxsave-PVE-Version: 8.2.4',
];

/** Commit `files` (path → spec) and `meta` as one snapshot; returns the commit id. */
export function commitSnapshot({
  repo,
  files,
  meta,
  date = '2024-03-05T06:07:08Z',
  trailers = TRAILERS,
  removeOthers = false,
}: {
  repo: string;
  files: Record<string, FileSpec>;
  meta: MetaEntry[];
  date?: string;
  trailers?: string[];
  removeOthers?: boolean;
}): string {
  if (!fs.existsSync(path.join(repo, '.git'))) {
    fs.mkdirSync(repo, { recursive: true });
    sh('git', ['init', '-q', '-b', 'main', repo]);
  }
  if (removeOthers) sh('git', ['rm', '-r', '-q', '--ignore-unmatch', '.'], { cwd: repo });
  for (const [p, spec] of Object.entries(files)) {
    const full = path.join(repo, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (spec.symlink !== undefined) fs.symlinkSync(spec.symlink, full);
    else fs.writeFileSync(full, spec.content ?? '', { mode: spec.exec ? 0o755 : 0o644 });
  }
  fs.mkdirSync(path.join(repo, '.proxsave'), { recursive: true });
  fs.writeFileSync(path.join(repo, '.proxsave/metadata'), formatMetadata(meta));
  const env = {
    GIT_AUTHOR_NAME: 'proxsave',
    GIT_AUTHOR_EMAIL: 'proxsave@localhost',
    GIT_COMMITTER_NAME: 'proxsave',
    GIT_COMMITTER_EMAIL: 'proxsave@localhost',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
  sh('git', ['add', '-A'], { cwd: repo, env });
  sh('git', ['commit', '-q', '--allow-empty', '-m', `snapshot\n\n${trailers.join('\n')}`], { cwd: repo, env });
  return sh('git', ['rev-parse', 'HEAD'], { cwd: repo }).trim();
}

export function meta(type: 'f' | 'd' | 'l', mode: number, uid: number, gid: number, p: string, owner = String(uid), group = String(gid)): MetaEntry {
  return { type, mode, uid, gid, owner, group, path: p };
}
