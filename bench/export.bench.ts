// Export throughput and memory against the CLI pipelines on the same data (issues 4, 13).
//   node --import tsx bench/export.bench.ts [--trees 300:2000,100:100000] [--repeat 3] [--xz]
//        [--cli dist/cli/index.js] [--no-build] [--out FILE.md] [--keep]
// Each tree is MB:FILES: FILES small config-like files (200–2200 B) plus
// 1–2 MiB files (every 8th one random, incompressible) up to MB. The tree is
// snapshotted by proxsave itself (so the objects are in proxsave's own pack,
// as on a real host), then, side by side in each repeat:
//   pipe   tar -cf - data | zstd -q -T0 -3 > f
//   chain  the same && zstd -q -t f && tar -tf f && sha256sum f   (create plus verify)
//   export node dist/cli/index.js export   (tar from the snapshot, zstd -3, verified, sidecars; with
//          the node flags of the CLI's first line, as bin/proxsave and the .deb start it)
// Ratios are throughput ratios on the same data (the others' seconds / proxsave's).
// --xz adds `tar | xz -T0 -6` against an xz export of the first tree.
// --cli runs another build (e.g. of an older commit) for before/after figures.
import fs from 'node:fs';
import path from 'node:path';
import {
  argFlag, argInt, argValue, CLI, ensureBuilt, fmt, keepDir, isMain, machineLine, markBuilt, markdownTable, measure, measureCli,
  median, prng, removeDir, tempDir, writeConfig, type Measured,
} from './lib.ts';

const WORDS = ['storage', 'dir', 'path', 'content', 'images', 'rootdir', 'vztmpl', 'backup', 'iso', 'nodes', 'shared', 'maxfiles', 'bridge', 'vmbr0', 'auto', 'iface', 'inet', 'static', 'address', 'gateway', 'netmask', 'mtu', 'bond0', 'cores', 'memory', 'scsi0', 'net0', 'virtio'];

export function makeTree(root: string, mb: number, files: number): void {
  const rnd = prng(12345 + mb * 7 + files);
  const text = (bytes: number): Buffer => {
    const lines: string[] = [];
    let size = 0;
    while (size < bytes) {
      const l = `${WORDS[rnd(WORDS.length)]}: ${WORDS[rnd(WORDS.length)]}-${rnd(100000)} ${rnd(2) ? `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}/24` : WORDS[rnd(WORDS.length)]}`;
      lines.push(l);
      size += l.length + 1;
    }
    return Buffer.from(lines.join('\n') + '\n');
  };
  const random = (bytes: number): Buffer => {
    const b = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((rnd(0x7fffffff) * 2 + rnd(2)) >>> 0, i);
    return b;
  };
  let written = 0;
  for (let s = 0; s < files; s++) {
    const d = path.join(root, 'data/etc', `d${Math.floor(s / 400)}`, `s${Math.floor(s / 20) % 20}`);
    if (s % 20 === 0) fs.mkdirSync(d, { recursive: true });
    const b = text(200 + rnd(2000));
    fs.writeFileSync(path.join(d, `f${s}.conf`), b);
    written += b.length;
  }
  for (let i = 0; written < mb * 2 ** 20; i++) {
    const d = path.join(root, 'data/var', `d${Math.floor(i / 50)}`);
    if (i % 50 === 0) fs.mkdirSync(d, { recursive: true });
    const b = i % 8 === 7 ? random(1 << 20) : text((1 << 20) + rnd(1 << 20));
    fs.writeFileSync(path.join(d, `f${i}.${i % 8 === 7 ? 'bin' : 'cfg'}`), b);
    written += b.length;
  }
}

function sh(cmd: string): Measured {
  const m = measure('sh', ['-c', cmd]);
  if (m.status !== 0) throw new Error(`${cmd}: exit ${m.status}\n${m.stderr}`);
  return m;
}

interface Row {
  tree: string;
  entries: number;
  tarMb: number;
  outMb: number;
  pipe: Measured[];
  chain: Measured[];
  exp: Measured[];
  others: Measured[][];
}

export async function runExportBench(argv: readonly string[]): Promise<string> {
  if (!argFlag(argv, '--no-build')) ensureBuilt();
  else markBuilt();
  // Several builds (comma-separated) are measured side by side; the first is the main one.
  const clis = argValue(argv, '--cli', CLI).split(',').map((c) => path.resolve(c));
  const cli = clis[0]!;
  const repeat = argInt(argv, '--repeat', 3);
  const trees = argValue(argv, '--trees', '300:2000').split(',').map((t) => t.split(':').map(Number) as [number, number]);
  const rows: Row[] = [];
  const xzRows: string[][] = [];
  for (const [mb, files] of trees) {
    const work = tempDir(`export${mb}`);
    const root = path.join(work, 'root');
    const t0 = Date.now();
    makeTree(root, mb, files);
    const tasks = path.join(work, 'tasks');
    fs.mkdirSync(tasks);
    fs.writeFileSync(path.join(tasks, 'bench.yaml'), 'group: system\ntasks:\n  - name: tree\n    files: [/data]\n');
    fs.mkdirSync(path.join(work, 'bin'));
    const config = writeConfig(work, { root, snapshot: path.join(work, 'repo'), tasks, commandPath: path.join(work, 'bin'), extra: { COMPRESSION_TYPE: 'zstd', COMPRESSION_LEVEL: '3' } });
    const snap = measureCli(cli, ['-c', config, 'snapshot']);
    if (snap.status !== 0) throw new Error(`snapshot failed: ${snap.stderr}`);
    process.stderr.write(`  tree ${mb} MB / ${files} small files generated and snapshotted in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const f = path.join(work, 'f.tar.zst');
    const tar = `tar -cf - -C ${root} data`;
    // Each measurement starts from a warm page cache of what it reads (this
    // machine reclaims cold pages within seconds): the source tree for the
    // pipelines, the snapshot's work tree and pack for the exports. Through
    // `cat`: GNU tar does not read the files when its archive is /dev/null.
    const warmSource = () => sh(`${tar} | cat > /dev/null`);
    const warmSnapshot = () => sh(`tar -cf - -C ${work} repo | cat > /dev/null`);
    const row: Row = { tree: `${mb} MB, ${files} small`, entries: 0, tarMb: 0, outMb: 0, pipe: [], chain: [], exp: [], others: clis.slice(1).map(() => []) };
    for (let r = 0; r < repeat; r++) {
      warmSource();
      row.pipe.push(sh(`${tar} | zstd -q -T0 -3 > ${f}`));
      warmSource();
      row.chain.push(sh(`${tar} | zstd -q -T0 -3 > ${f} && zstd -q -t ${f} && tar -tf ${f} > /dev/null && sha256sum ${f} > /dev/null`));
      const out = path.join(work, `out${r}`);
      // The builds take turns going first.
      const order = clis.map((_, k) => k);
      if (r % 2 === 1) order.reverse();
      let e: Measured | undefined;
      for (const k of order) {
        warmSnapshot();
        const m = measureCli(clis[k]!, ['-c', config, ...(k === 0 ? ['--json'] : []), 'export', '--out', out]);
        if (m.status !== 0) throw new Error(`export (${clis[k]}) failed: ${m.stderr}`);
        removeDir(out);
        if (k > 0) {
          row.others[k - 1]!.push(m);
          continue;
        }
        const j = JSON.parse(m.stdout) as { entries: number; bytes_in: number; bytes_out: number };
        row.entries = j.entries;
        row.tarMb = j.bytes_in / 2 ** 20;
        row.outMb = j.bytes_out / 2 ** 20;
        row.exp.push(m);
        e = m;
      }
      process.stderr.write(`    pipe ${fmt(row.pipe.at(-1)!.seconds)} s, chain ${fmt(row.chain.at(-1)!.seconds)} s, export ${fmt(e!.seconds)} s (${fmt(e!.rssMb, 0)} MB)\n`);
    }
    rows.push(row);
    if (argFlag(argv, '--xz') && xzRows.length === 0) {
      const xcfg = writeConfig(work, { root, snapshot: path.join(work, 'repo'), tasks, commandPath: path.join(work, 'bin'), extra: { COMPRESSION_TYPE: 'xz', COMPRESSION_LEVEL: '6' } });
      const p = sh(`${tar} | xz -q -T0 -6 > ${f}.xz`);
      const e = measureCli(cli, ['-c', xcfg, 'export', '--out', path.join(work, 'outxz')]);
      if (e.status !== 0) throw new Error(`xz export failed: ${e.stderr}`);
      xzRows.push([`xz -6, ${row.tree}`, fmt(p.seconds), fmt(e.seconds), `${fmt(p.seconds / e.seconds)}×`, fmt(e.rssMb, 0)]);
    }
    if (argFlag(argv, '--keep')) keepDir(work);
    else removeDir(work);
  }
  const med = (ms: Measured[], k: 'seconds' | 'cpuSeconds' | 'rssMb') => median(ms.map((m) => m[k]));
  let md = `${machineLine()}; median of ${repeat}; proxsave = ${path.relative(process.cwd(), cli)}\n\n`;
  md += markdownTable(
    ['tree', 'entries', 'tar MB', 'out MB', 'pipe s', 'chain s', 'export s', 'vs chain', 'vs pipe', 'CPU s pipe / chain / export', 'export peak RSS MB'],
    rows.map((r) => [
      r.tree, String(r.entries), fmt(r.tarMb, 0), fmt(r.outMb, 1),
      fmt(med(r.pipe, 'seconds')), fmt(med(r.chain, 'seconds')), fmt(med(r.exp, 'seconds')),
      `**${fmt(med(r.chain, 'seconds') / med(r.exp, 'seconds'))}×**`, `**${fmt(med(r.pipe, 'seconds') / med(r.exp, 'seconds'))}×**`,
      `${fmt(med(r.pipe, 'cpuSeconds'))} / ${fmt(med(r.chain, 'cpuSeconds'))} / ${fmt(med(r.exp, 'cpuSeconds'))}`,
      fmt(Math.max(...r.exp.map((m) => m.rssMb)), 0),
    ]),
  );
  if (clis.length > 1) {
    md += '\n\n' + markdownTable(
      ['tree', 'build', 'export s', 'vs chain', 'CPU s', 'peak RSS MB'],
      rows.flatMap((r) => [[cli, r.exp] as const, ...clis.slice(1).map((c, k) => [c, r.others[k]!] as const)].map(([c, ms]) => [
        r.tree, path.relative(process.cwd(), c), fmt(med(ms, 'seconds')), `${fmt(med(r.chain, 'seconds') / med(ms, 'seconds'))}×`, fmt(med(ms, 'cpuSeconds')), fmt(Math.max(...ms.map((m) => m.rssMb)), 0),
      ])),
    );
  }
  if (xzRows.length) md += '\n\n' + markdownTable(['compressor', '`tar | xz -T0 -6` s', 'export s', 'ratio', 'export peak RSS MB'], xzRows);
  return md;
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argFlag(argv, '--help')) {
    process.stdout.write('node --import tsx bench/export.bench.ts [--trees MB:FILES,...] [--repeat N] [--xz] [--cli PATH] [--no-build] [--out FILE.md] [--keep]\n');
    process.exit(0);
  }
  const md = await runExportBench(argv);
  process.stdout.write(md + '\n');
  const out = argValue(argv, '--out', '');
  if (out) fs.writeFileSync(out, md + '\n');
}
