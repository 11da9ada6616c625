// Shared helpers of the snapshot and command benchmarks: argument parsing, the
// build of dist/, timing a child process with its peak RSS (GNU time), temp
// directories, proxsave config files, medians and markdown tables.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'index.js');
export const GNU_TIME = '/usr/bin/time';

/** Value of `--name VALUE` (or `--name=VALUE`), else `def`. */
export function argValue(argv: readonly string[], name: string, def: string): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === name && argv[i + 1] !== undefined) return argv[i + 1]!;
    if (a.startsWith(name + '=')) return a.slice(name.length + 1);
  }
  return def;
}

export function argFlag(argv: readonly string[], name: string): boolean {
  return argv.includes(name);
}

export function argInt(argv: readonly string[], name: string, def: number): number {
  const v = Number(argValue(argv, name, String(def)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

/** Compiles src/ to dist/ once per process (`npx tsc -p tsconfig.build.json`). */
let built = false;
export function ensureBuilt(): void {
  if (built) return;
  process.stderr.write('building dist/ (npx tsc -p tsconfig.build.json)...\n');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  built = true;
}

export function markBuilt(): void {
  built = true;
}

export function hasGnuTime(): boolean {
  try {
    return spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

export interface Measured {
  /** Wall time in seconds, measured around the child by this process. */
  seconds: number;
  /** Peak RSS in MB (max over the child and the descendants it waited for); NaN without GNU time. */
  rssMb: number;
  /** User + system CPU seconds of the child and its waited-for descendants; NaN without GNU time. */
  cpuSeconds: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd args` as a child (through GNU time when present, for the peak RSS)
 * and times it. The extra fork/exec of `time` costs about a millisecond.
 */
export function measure(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Measured {
  const withTime = hasGnuTimeCached();
  const tmp = withTime ? path.join(os.tmpdir(), `proxsave-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : '';
  const argv = withTime ? ['-o', tmp, '-f', '%M %U %S', cmd, ...args] : [...args];
  const exe = withTime ? GNU_TIME : cmd;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(exe, argv, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  let rssMb = NaN;
  let cpuSeconds = NaN;
  if (withTime) {
    const lines = fs.readFileSync(tmp, 'utf8').trim().split('\n');
    fs.rmSync(tmp, { force: true });
    // On a non-zero exit GNU time first writes "Command exited with non-zero status N".
    const [kb, user, sys] = lines[lines.length - 1]!.split(' ').map(Number);
    rssMb = kb! / 1024;
    cpuSeconds = user! + sys!;
  }
  return { seconds, rssMb, cpuSeconds, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let gnuTime: boolean | undefined;
function hasGnuTimeCached(): boolean {
  if (gnuTime === undefined) {
    gnuTime = hasGnuTime();
    if (!gnuTime) process.stderr.write(`warning: ${GNU_TIME} not found, peak RSS not measured (apt-get install -y time)\n`);
  }
  return gnuTime;
}

/** Runs proxsave from dist/ as a measured child. */
/**
 * The node flags a built CLI is started with (its `#!/usr/bin/env -S node
 * FLAGS` line, which bin/proxsave and the .deb's launcher carry too): the
 * benchmarks run the program as it is installed.
 */
export function launchFlags(cli: string): string[] {
  const first = fs.readFileSync(cli, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/) : [];
}

/** Runs a built CLI (`cli`, default dist/) with its launch flags, measured. */
export function measureCli(cli: string, args: readonly string[], nodeFlags: readonly string[] = []): Measured {
  return measure(process.execPath, [...launchFlags(cli), ...nodeFlags, cli, ...args]);
}

export function measureProxsave(config: string, args: readonly string[], nodeFlags: readonly string[] = []): Measured {
  return measureCli(CLI, ['-c', config, ...args], nodeFlags);
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `proxsave-bench-${prefix}-`));
}

/** Temp dirs removed on exit (and on SIGINT/SIGTERM) unless removed earlier. */
const toClean = new Set<string>();
let hooked = false;
export function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  toClean.add(d);
  if (!hooked) {
    hooked = true;
    process.on('exit', cleanupAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const)
      process.on(sig, () => {
        cleanupAll();
        process.exit(130);
      });
  }
  return d;
}

export function removeDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  toClean.delete(d);
}

/** Leaves `d` in place at exit (--keep), saying where it is. */
export function keepDir(d: string): void {
  toClean.delete(d);
  process.stderr.write(`  kept ${d}\n`);
}

function cleanupAll(): void {
  for (const d of toClean) fs.rmSync(d, { recursive: true, force: true });
  toClean.clear();
}

export interface BenchConfig {
  root: string;
  snapshot: string;
  tasks: string;
  commandPath: string;
  extra?: Record<string, string>;
}

/** Writes a KEY=value config under `dir` (backup, log and lock dirs inside it) and returns its path. */
export function writeConfig(dir: string, c: BenchConfig): string {
  const lines = [
    `SYSTEM_ROOT_PREFIX=${c.root}`,
    `SNAPSHOT_PATH=${c.snapshot}`,
    `TASKS_PATH=${c.tasks}`,
    `COMMAND_PATH=${c.commandPath}`,
    `BACKUP_PATH=${path.join(dir, 'backup')}`,
    `LOG_PATH=${path.join(dir, 'log')}`,
    `LOCK_PATH=${path.join(dir, 'lock')}`,
    ...Object.entries(c.extra ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  const file = path.join(dir, 'bench.env');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = header.map((_, i) => rows.every((r) => /^[-\d.,×x%n/a ]*$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (right[i] ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** Deterministic PRNG (LCG) so every run generates the same data. */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

export function machineLine(): string {
  const cpus = os.cpus();
  let git = '';
  try {
    git = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    git = 'git missing';
  }
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${git}, ${os.platform()} ${os.release()}`;
}

export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  if (u.startsWith(REPO_ROOT + '/')) return u.slice(REPO_ROOT.length + 1);
  return u;
}

/**
 * Self time per function of a `.cpuprofile` (the time of each sample is the
 * delta to the next one), as a markdown table of the top `top`, preceded by
 * the split between src/, node_modules/, node internals, GC and idle.
 */
export function summarizeCpuProfile(prof: CpuProfile, top: number): string {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000; // ms
    const n = byId.get(prof.samples[i]!);
    if (!n) continue;
    const cf = n.callFrame;
    const w = where(cf.url);
    const key = `${cf.functionName || '(anonymous)'}${w ? ` ${w}:${cf.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const g = !w ? (cf.functionName.startsWith('(') ? cf.functionName : 'native/builtin')
      : w.startsWith('node:') ? 'node internals'
      : w.startsWith('dist/') || w.startsWith('src/') ? 'proxsave (dist/)'
      : cf.url.includes('node_modules/') ? 'node_modules' : 'other';
    groups.set(g, (groups.get(g) ?? 0) + dt);
    total += dt;
  }
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)}%`;
  const gl = [...groups].sort((a, b) => b[1] - a[1]).map(([g, ms]) => `${g} ${Math.round(ms)} ms (${pct(ms)})`).join('; ');
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => [String(Math.round(ms)), pct(ms), '`' + k + '`']);
  return `Sampled ${Math.round(total)} ms: ${gl}.\n\n` + markdownTable(['self ms', 'share', 'function'], rows);
}
