// Parallel command tasks (issue 3).
//   node --import tsx bench/commands.bench.ts [--concurrency 4,8,16] [--repeat 3] [--out FILE.md] [--no-build]
// Writes 40 stub commands (sh scripts: `sleep` 0.20..0.50 s, a deterministic
// linear spread, then ~30 lines of output) into a COMMAND_PATH directory and
// 40 command tasks running them, then times one `proxsave snapshot` (a child
// process, fresh repository each time) per COMMAND_CONCURRENCY value. The
// reference is the sum of the stubs' latencies measured by running them one
// after the other; the goal is snapshot ≤ 0.35 × that sum at concurrency 8.
// "pool bound" is the makespan of an ideal pool of N slots taking the tasks in
// order (sleeps only, no process or snapshot cost).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  argFlag, argInt, argValue, CLI, ensureBuilt, fmt, isMain, launchFlags, machineLine, markBuilt, markdownTable,
  measureProxsave, median, removeDir, tempDir, writeConfig,
} from './lib.ts';

const STUBS = 40;
const GOAL_CONCURRENCY = 8;
const GOAL_RATIO = 0.35;

export function sleeps(n = STUBS): number[] {
  return Array.from({ length: n }, (_, i) => (20 + Math.round((30 * i) / (n - 1))) / 100);
}

/** Makespan of `durations` on `slots` workers, each task going to the first free worker in list order. */
export function poolBound(durations: readonly number[], slots: number): number {
  const free = new Array<number>(slots).fill(0);
  for (const d of durations) {
    let k = 0;
    for (let j = 1; j < slots; j++) if (free[j]! < free[k]!) k = j;
    free[k]! += d;
  }
  return Math.max(...free);
}

function writeStubs(bin: string, secs: readonly number[]): void {
  fs.mkdirSync(bin, { recursive: true });
  secs.forEach((s, i) => {
    const f = path.join(bin, `stub${i + 1}`);
    fs.writeFileSync(f, `#!/bin/sh\nsleep ${s.toFixed(2)}\ni=1\nwhile [ $i -le 30 ]; do echo "stub${i + 1} line $i: key-$i = value-$((i * ${i + 7}))"; i=$((i + 1)); done\n`);
    fs.chmodSync(f, 0o755);
  });
}

function writeTasks(dir: string, n: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const tasks = Array.from({ length: n }, (_, i) => `  - name: c${i + 1}\n    command: [stub${i + 1}]\n    dest: bench/c${i + 1}.txt\n`).join('');
  fs.writeFileSync(path.join(dir, 'bench.yaml'), `group: system\ntasks:\n${tasks}`);
}

/** Wall time of each stub run on its own, one after the other. */
function sequentialLatencies(bin: string, n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(path.join(bin, `stub${i}`), [], { encoding: 'utf8' });
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.status !== 0) throw new Error(`stub${i} exited ${r.status}`);
  }
  return out;
}

export async function runCommandsBench(argv: readonly string[]): Promise<string> {
  if (argFlag(argv, '--help')) {
    process.stdout.write('node --import tsx bench/commands.bench.ts [--concurrency 4,8,16] [--repeat 3] [--out FILE.md] [--no-build]\n');
    return '';
  }
  const levels = argValue(argv, '--concurrency', '4,8,16').split(',').map(Number);
  if (levels.some((c) => !Number.isInteger(c) || c < 1 || c > 64)) throw new Error('--concurrency: integers 1..64, comma separated');
  const repeat = argInt(argv, '--repeat', 3);
  if (argFlag(argv, '--no-build')) markBuilt();
  else ensureBuilt();

  const work = tempDir('cmd');
  const bin = path.join(work, 'bin');
  const tasks = path.join(work, 'tasks');
  const root = path.join(work, 'root');
  fs.mkdirSync(root);
  const secs = sleeps();
  writeStubs(bin, secs);
  writeTasks(tasks, STUBS);
  process.stderr.write(`commands bench: measuring the ${STUBS} stubs one after the other...\n`);
  const seq = sequentialLatencies(bin, STUBS);
  const seqSum = seq.reduce((a, b) => a + b, 0);
  const nominal = secs.reduce((a, b) => a + b, 0);

  const rows: string[][] = [];
  for (const c of levels) {
    const times: number[] = [];
    const rss: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const runDir = path.join(work, `run-${c}-${r}`);
      fs.mkdirSync(runDir);
      const repo = path.join(runDir, 'repo');
      const config = writeConfig(runDir, { root, snapshot: repo, tasks, commandPath: bin, extra: { COMMAND_CONCURRENCY: String(c) } });
      const m = measureProxsave(config, ['snapshot']);
      if (m.status !== 0) throw new Error(`proxsave snapshot (COMMAND_CONCURRENCY=${c}) exited ${m.status}\n${m.stderr.slice(-2000)}${m.stdout.slice(-2000)}`);
      const stored = execFileSync('git', ['-C', repo, 'ls-tree', '-r', '--name-only', 'HEAD'], { encoding: 'utf8' })
        .split('\n').filter((p) => /\/bench\/c\d+\.txt$/.test(p)).length;
      if (stored !== STUBS) throw new Error(`COMMAND_CONCURRENCY=${c}: ${stored} of ${STUBS} command outputs committed`);
      times.push(m.seconds);
      rss.push(m.rssMb);
      removeDir(runDir);
      process.stderr.write(`  COMMAND_CONCURRENCY=${c}, repeat ${r + 1}/${repeat}: ${m.seconds.toFixed(2)} s\n`);
    }
    const t = median(times);
    const ratio = t / seqSum;
    const goal = c === GOAL_CONCURRENCY ? (ratio <= GOAL_RATIO ? `met (≤ ${GOAL_RATIO}×)` : `missed (> ${GOAL_RATIO}×)`) : '';
    rows.push([String(c) + (c === 4 ? ' (default)' : ''), fmt(t), fmt(seqSum), `${fmt(ratio, 3)}×`, fmt(poolBound(secs, c)), fmt(median(rss), 0), goal]);
  }
  removeDir(work);
  const md = `### Command tasks: ${STUBS} stubs (sleep 0.20–0.50 s), median of ${repeat}\n\n${machineLine()}\n\n`
    + markdownTable(['COMMAND_CONCURRENCY', 'snapshot s', 'sequential sum s', 'ratio', 'pool bound s', 'peak RSS MB', `goal @${GOAL_CONCURRENCY}`], rows)
    + `\n\nSequential sum: the ${STUBS} stubs run one after the other (sleeps alone: ${fmt(nominal)} s). Snapshot: \`node ${launchFlags(CLI).join(' ')} dist/cli/index.js -c CONFIG snapshot\` with ${STUBS} command tasks, fresh repository.\n`;
  const outFile = argValue(argv, '--out', '');
  if (outFile) fs.writeFileSync(outFile, md);
  return md;
}

if (isMain(import.meta.url)) {
  runCommandsBench(process.argv.slice(2)).then((md) => process.stdout.write(md), (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : e}\n`);
    process.exit(1);
  });
}
