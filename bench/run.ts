// The proxsave benchmarks of issues 2, 3 and 13 in one run (`make bench`).
//   node --import tsx bench/run.ts [--quick] [--profile] [--out FILE.md]
// Builds dist/ once, then runs bench/snapshot.bench.ts (sizes 1000,10000,50000,
// repeat 3; --quick: 1000,10000, repeat 1), bench/commands.bench.ts
// (COMMAND_CONCURRENCY 4, 8, 16; --quick: repeat 1), bench/export.bench.ts
// (a 300 MB snapshot, repeat 3; --quick: 100 MB, repeat 1) and bench/tar.bench.ts,
// and prints every table.
import fs from 'node:fs';
import { runCommandsBench } from './commands.bench.ts';
import { runExportBench } from './export.bench.ts';
import { runOverheadBench } from './run-overhead.bench.ts';
import { argFlag, argValue, ensureBuilt } from './lib.ts';
import { runSnapshotBench } from './snapshot.bench.ts';
import { runTarBench } from './tar.bench.ts';

const argv = process.argv.slice(2);
if (argFlag(argv, '--help')) {
  process.stdout.write('node --import tsx bench/run.ts [--quick] [--profile] [--out FILE.md]\n');
  process.exit(0);
}
const quick = argFlag(argv, '--quick');

try {
  ensureBuilt();
  const snap = await runSnapshotBench([
    '--no-build',
    '--sizes', quick ? '1000,10000' : '1000,10000,50000',
    '--repeat', quick ? '1' : '3',
    ...(argFlag(argv, '--profile') ? ['--profile'] : []),
  ]);
  process.stdout.write(snap + '\n');
  const cmd = await runCommandsBench(['--no-build', '--repeat', quick ? '1' : '3']);
  process.stdout.write(cmd + '\n');
  const over = await runOverheadBench(['--no-build', '--repeat', quick ? '3' : '7']);
  process.stdout.write(over + '\n');
  const exp = await runExportBench(['--no-build', '--trees', quick ? '100:1000' : '300:2000', '--repeat', quick ? '1' : '3']);
  process.stdout.write(exp + '\n');
  const tar = await runTarBench(['--no-build', '--repeat', quick ? '1' : '5']);
  process.stdout.write(tar + '\n');
  const out = argValue(argv, '--out', '');
  if (out) fs.writeFileSync(out, `${snap}\n${cmd}\n${over}\n${exp}\n${tar}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : e}\n`);
  process.exit(1);
}
