// Example Proxmox hosts for tests: test/fixtures/hosts/<name>/ holds
//   root/               the host filesystem (files and symlinks git can keep)
//   empty-dirs.txt      empty directories git cannot keep
//   modes.txt           "<mode> <uid> <gid> <path>" applied after copying
//   config-db.sql       optional: loaded into var/lib/pve-cluster/config.db
//   bin/                stub commands (COMMAND_PATH), see test/fixtures/stub-dispatch.sh
//   outputs/            what each stub prints, by argv
//   expected-paths.txt  snapshot paths a default run must produce at minimum
// materializeHost() copies root/ into a fresh temporary directory and makes
// it look like the real thing (empty dirs, modes, owners, config.db).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, cp, lchown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PROJECT } from './project.ts';
import { tempDir, type TempDir } from './temp-dir.ts';

export const FIXTURES_DIR = join(PROJECT, 'test', 'fixtures');
export const HOSTS_DIR = join(FIXTURES_DIR, 'hosts');
/** Stubs that misbehave on purpose: slow, hang, fail, garbage, bigout. */
export const MISBEHAVING_BIN = join(FIXTURES_DIR, 'stubs', 'misbehaving');

export type HostName = 'pve-cluster' | 'pve-standalone' | 'pbs' | 'dual';
export const HOST_NAMES: readonly HostName[] = ['pve-cluster', 'pve-standalone', 'pbs', 'dual'];

/** Node name (/etc/hostname) of each example host: the value of `{node}`. */
export const HOST_NODES: Record<HostName, string> = { 'pve-cluster': 'due', 'pve-standalone': 'pve1', pbs: 'pbs1', dual: 'hybrid1' };

export interface MaterializedHost {
  /** Absolute path of the host root (SYSTEM_ROOT_PREFIX / --root). */
  root: string;
  /** Absolute path of the host's stub commands (COMMAND_PATH). */
  bin: string;
  cleanup(): Promise<void>;
}

function hostDir(name: HostName): string {
  const dir = join(HOSTS_DIR, name);
  if (!existsSync(join(dir, 'root'))) throw new Error(`unknown example host ${name}`);
  return dir;
}

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Paths under root/ must stay inside it. */
function inside(root: string, rel: string): string {
  const p = resolve(root, rel);
  if (p !== root && !p.startsWith(root + '/')) throw new Error(`fixture path escapes the root: ${rel}`);
  return p;
}

export async function materializeHost(name: HostName, opts: { into?: string } = {}): Promise<MaterializedHost> {
  const dir = hostDir(name);
  // `into`: use this directory as the root (created when missing; should be empty).
  const base = opts.into ? resolve(opts.into) : await mkdtemp(join(tmpdir(), `proxsave-host-${name}-`));
  const root = opts.into ? base : join(base, 'root');
  await mkdir(root, { recursive: true });
  await cp(join(dir, 'root'), root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });

  for (const rel of lines(join(dir, 'empty-dirs.txt'))) await mkdir(inside(root, rel), { recursive: true });

  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // Deepest first, so a 0700 directory never blocks a chmod below it (non-root runs).
  const modes = lines(join(dir, 'modes.txt'))
    .map((l) => {
      const m = /^([0-7]{3,4})\s+(\d+)\s+(\d+)\s+(.+)$/.exec(l);
      if (!m) throw new Error(`${name}/modes.txt: bad line: ${l}`);
      return { mode: parseInt(m[1]!, 8), uid: Number(m[2]), gid: Number(m[3]), path: inside(root, m[4]!) };
    })
    .sort((a, b) => b.path.split('/').length - a.path.split('/').length);

  const sql = join(dir, 'config-db.sql');
  if (existsSync(sql) && hasSqlite3()) {
    const db = join(root, 'var/lib/pve-cluster/config.db');
    await mkdir(dirname(db), { recursive: true });
    execFileSync('sqlite3', [db], { input: readFileSync(sql), stdio: ['pipe', 'ignore', 'pipe'] });
    await chmod(db, 0o600);
  }

  for (const m of modes) {
    if (!existsSync(m.path)) continue;
    if (asRoot) await lchown(m.path, m.uid, m.gid);
    await chmod(m.path, m.mode);
  }

  const cleanup = async () => {
    // A 0700/0500 directory owned by someone else cannot be removed as non-root: reopen first.
    if (!asRoot) await chmodTree(root).catch(() => {});
    await rm(base, { recursive: true, force: true });
  };
  return { root, bin: join(dir, 'bin'), cleanup };
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await chmodTree(join(dir, e.name));
}

let sqlite3: boolean | undefined;
export function hasSqlite3(): boolean {
  if (sqlite3 === undefined) {
    try {
      execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
      sqlite3 = true;
    } catch {
      sqlite3 = false;
    }
  }
  return sqlite3;
}

/** The snapshot paths a default run on this host must produce (expected-paths.txt). */
export function expectedPaths(name: HostName): string[] {
  return lines(join(hostDir(name), 'expected-paths.txt'));
}

/**
 * An example host laid out for one test plus an empty work directory beside it
 * (repository, targets, config), both removed when the test ends.
 */
export async function hostWithWorkDir(t: { after(fn: () => unknown): void }, name: HostName): Promise<{ host: MaterializedHost; work: TempDir }> {
  const host = await materializeHost(name);
  const work = tempDir();
  t.after(async () => {
    await host.cleanup();
    work.cleanup();
  });
  return { host, work };
}
