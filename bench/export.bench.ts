// Export throughput and memory against the plain CLI pipeline on the same data.
//   node --import tsx bench/export.bench.ts [--size-mb N] [--xz-size-mb M] [--only zstd|xz]
// Generates a tree of config-like text plus some random data, commits it with
// the git CLI, then times `proxsave export` (in a child, for its peak RSS)
// next to `tar -cf - DIR | zstd -T0 -3` and `tar -cf - DIR | xz -T0 -6`.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

async function child(): Promise<void> {
  const { exportSnapshot } = await import('../src/app/export.ts');
  const [repoDir, outDir, type, level] = process.argv.slice(3) as [string, string, string, string];
  const r = await exportSnapshot({ repoDir, outDir, compression: { type, level, mode: 'standard', threads: 0, engine: 'auto' } });
  process.stdout.write(JSON.stringify({ ms: r.durationMs, bytesIn: r.bytesIn, bytesOut: r.bytesOut, entries: r.entries, maxRssKb: process.resourceUsage().maxRSS }) + '\n');
}

function makeTree(dir: string, sizeMb: number): void {
  const words = ['storage', 'dir', 'path', 'content', 'images', 'rootdir', 'vztmpl', 'backup', 'iso', 'nodes', 'shared', 'maxfiles', 'prune-backups', 'keep-last', 'bridge', 'vmbr0', 'auto', 'iface', 'inet', 'static', 'address', 'gateway', 'netmask', 'mtu', 'bond0', 'cores', 'memory', 'scsi0', 'net0', 'virtio', 'ostype', 'l26', 'boot', 'order'];
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const textFile = (bytes: number): Buffer => {
    const lines: string[] = [];
    let size = 0;
    while (size < bytes) {
      const l = `${words[rnd(words.length)]}: ${words[rnd(words.length)]}-${rnd(100000)} ${rnd(2) ? `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}/24` : words[rnd(words.length)]}`;
      lines.push(l);
      size += l.length + 1;
    }
    return Buffer.from(lines.join('\n') + '\n');
  };
  const total = sizeMb * 1024 * 1024;
  let written = 0;
  let i = 0;
  fs.mkdirSync(path.join(dir, 'etc/small'), { recursive: true });
  for (let s = 0; s < 2000; s++) {
    const b = textFile(200 + rnd(4000));
    fs.writeFileSync(path.join(dir, 'etc/small', `f${s}.conf`), b);
    written += b.length;
  }
  while (written < total) {
    const sub = path.join(dir, 'var/lib/data', `d${Math.floor(i / 50)}`);
    fs.mkdirSync(sub, { recursive: true });
    // ~12% of the bytes are incompressible.
    const b = i % 8 === 7 ? crypto.randomBytes(1 << 20) : textFile((1 << 20) + rnd(1 << 20));
    fs.writeFileSync(path.join(sub, `f${i}.${i % 8 === 7 ? 'bin' : 'cfg'}`), b);
    written += b.length;
    i++;
  }
}

function commit(dir: string): void {
  const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b', GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z' };
  execFileSync('git', ['init', '-q', dir]);
  fs.mkdirSync(path.join(dir, '.proxsave'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.proxsave/metadata'), '# proxsave metadata v1\n');
  execFileSync('git', ['add', '-A'], { cwd: dir, env });
  execFileSync('git', ['commit', '-q', '-m', 'bench\n\nProxsave-Host: bench'], { cwd: dir, env });
}

function timeShell(cmd: string): { ms: number; bytesOut: number; maxRssKb: number } {
  const out = path.join(os.tmpdir(), `bench-cli-${process.pid}`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', `${cmd} > ${out}`], { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  const bytesOut = fs.statSync(out).size;
  fs.rmSync(out);
  return { ms, bytesOut, maxRssKb: Number(r.stderr.trim().split('\n').pop()) };
}

function runExport(repo: string, type: string, level: string): { ms: number; bytesIn: number; bytesOut: number; maxRssKb: number; wallMs: number } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-out-'));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', repo, out, type, level], { encoding: 'utf8', cwd: path.dirname(path.dirname(self)) });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(r.stderr);
  fs.rmSync(out, { recursive: true, force: true });
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()!), wallMs };
}

async function main(): Promise<void> {
  const sizeMb = Number(arg('--size-mb', '1024'));
  const xzSizeMb = Number(arg('--xz-size-mb', String(Math.min(sizeMb, 200))));
  const only = arg('--only', '');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'proxsave-bench-'));
  const rows: string[] = [];
  const mb = (b: number) => b / 1024 / 1024;
  try {
    const trees = new Map<number, string>();
    const tree = (size: number): string => {
      if (!trees.has(size)) {
        const dir = path.join(base, `tree-${size}`);
        const t0 = performance.now();
        makeTree(dir, size);
        commit(dir);
        // Warm the page cache for both sides alike.
        execFileSync('sh', ['-c', `tar -cf - --exclude=.git -C ${dir} . > /dev/null; cat ${dir}/.git/objects/*/* > /dev/null 2>&1 || true`]);
        console.error(`tree ${size} MB generated and committed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        trees.set(size, dir);
      }
      return trees.get(size)!;
    };
    for (const [type, level, size] of [['zstd', '3', sizeMb], ['xz', '6', xzSizeMb]] as const) {
      if (only && only !== type) continue;
      const dir = tree(size);
      const cli = timeShell(`tar -cf - --exclude=.git -C ${dir} . | ${type} -T0 -${level}`);
      const exp = runExport(dir, type, level);
      const inMb = mb(exp.bytesIn);
      const thr = inMb / (exp.ms / 1000);
      const cliThr = inMb / (cli.ms / 1000);
      rows.push(`| ${type} -${level} | ${size} | ${inMb.toFixed(0)} | ${cliThr.toFixed(1)} | ${thr.toFixed(1)} | ${(thr / cliThr).toFixed(2)}× | ${mb(cli.bytesOut).toFixed(1)} | ${mb(exp.bytesOut).toFixed(1)} | ${(exp.maxRssKb / 1024).toFixed(0)} |`);
      console.error(rows.at(-1));
    }
  } finally {
    if (!process.argv.includes('--keep')) fs.rmSync(base, { recursive: true, force: true });
  }
  console.log(`\n${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, node ${process.version}\n`);
  console.log('| compressor | tree MB | tar MB | `tar \\| cli` MB/s | proxsave export MB/s (incl. verify) | ratio | cli out MB | export out MB | export peak RSS MB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

if (process.argv[2] === '--child') await child();
else await main();
