// `proxsave run` on an unchanged host against a bare `proxsave snapshot` of it
// (issue 12: within 1.3x). The run has everything on that an unchanged run
// touches: local + secondary targets, retention, metrics, email (NOTIFY_ON
// default: nothing is sent when nothing changed).
//   node --import tsx bench/run-overhead.bench.ts [--sizes 1000,10000] [--repeat 7] [--no-build]
import fs from 'node:fs';
import path from 'node:path';
import { argFlag, argInt, argValue, ensureBuilt, fmt, isMain, machineLine, markBuilt, markdownTable, measureProxsave, median, tempDir, writeConfig } from './lib.ts';
import { generateTree } from './snapshot.bench.ts';

export async function runOverheadBench(argv: string[]): Promise<string> {
  if (argFlag(argv, '--no-build')) markBuilt();
  ensureBuilt();
  const sizes = argValue(argv, '--sizes', '1000,10000').split(',').map(Number);
  const repeat = argInt(argv, '--repeat', 7);
  const rows: string[][] = [];
  for (const n of sizes) {
    const work = tempDir(`runover${n}`);
    const root = path.join(work, 'root');
    generateTree(root, n);
    fs.writeFileSync(path.join(root, 'hostname'), 'benchhost\n');
    const tasks = path.join(work, 'tasks');
    fs.mkdirSync(tasks);
    fs.writeFileSync(path.join(tasks, '10-bench.yaml'), 'group: system\ntasks:\n  - name: data\n    files: [/data]\n');
    const bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'sendmail'), '#!/bin/sh\ncat > /dev/null\n', { mode: 0o755 });
    fs.mkdirSync(path.join(work, 'secondary'));
    const config = writeConfig(work, {
      root,
      snapshot: path.join(work, 'repo'),
      tasks,
      commandPath: bin,
      extra: {
        SECONDARY_ENABLED: 'true',
        SECONDARY_PATH: path.join(work, 'secondary'),
        MIN_DISK_SPACE_PRIMARY_GB: '0',
        MIN_DISK_SPACE_SECONDARY_GB: '0',
        METRICS_ENABLED: 'true',
        METRICS_PATH: path.join(work, 'textfile', 'proxsave.prom'),
        EMAIL_ENABLED: 'true',
        EMAIL_RECIPIENT: 'root@localhost',
      },
    });
    const first = measureProxsave(config, ['run']);
    if (first.status !== 0) throw new Error(`first run exited ${first.status}: ${first.stderr.slice(-1000)}`);
    const snap: number[] = [];
    const run: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const s = measureProxsave(config, ['snapshot', '-q']);
      const r = measureProxsave(config, ['run', '-q']);
      if (s.status !== 0 || r.status !== 0) throw new Error(`unchanged snapshot/run exited ${s.status}/${r.status}: ${s.stderr}${r.stderr}`);
      snap.push(s.seconds);
      run.push(r.seconds);
    }
    const [ms, mr] = [median(snap), median(run)];
    rows.push([String(n), fmt(first.seconds), fmt(ms, 3), fmt(mr, 3), fmt(mr / ms)]);
  }
  return `### run vs snapshot on an unchanged host (median of ${repeat})\n\n${machineLine()}\n\n${markdownTable(['files', 'first run s', 'snapshot s', 'run s', 'run / snapshot'], rows)}\n`;
}

if (isMain(import.meta.url)) process.stdout.write(await runOverheadBench(process.argv.slice(2)));
