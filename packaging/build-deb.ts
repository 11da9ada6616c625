// `make package`: proxsave_<version>_all.deb, installable without a compiler
// or network. The program is bundled ES modules (esbuild) with no native
// Node module inside: compression runs the zstd/xz programs, the sqlite task
// the sqlite3 program (see src/modules/sqlite-cli.ts), so Architecture: all.
//   node --import tsx packaging/build-deb.ts [--out DIR]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { loadConfig } from '../src/config/load-config.ts';
import { renderService, renderTimer } from '../src/ops/schedule.ts';
import { renderTemplate } from '../scripts/gen-config-template.ts';
import { renderCompletion } from './gen-completion.ts';
import { renderMan } from './gen-man.ts';

/** The project: the nearest directory above with package.json and tasks/ (packaging/ from source, build/test/packaging/ when the tests run compiled). */
const PROJECT = ((from: string) => {
  let d = from;
  while (!(existsSync(join(d, 'package.json')) && existsSync(join(d, 'tasks'))) && dirname(d) !== d) d = dirname(d);
  return d;
})(resolve(import.meta.dirname, '..'));
const NATIVE = ['better-sqlite3', 'zstd-napi', 'lzma-native'];

export interface BuildDebOptions {
  outDir?: string;
  /** Where the package tree is staged (removed and re-created). */
  workDir?: string;
}

export interface BuiltDeb {
  deb: string;
  version: string;
  bundleBytes: number;
  bundleMs: number;
}

/**
 * The program: src/cli/index.ts and its npm dependencies, native modules
 * left out, split where the code imports lazily (a command, zod, yaml,
 * isomorphic-git...) into chunks beside the entry, so that a command parses
 * only what it runs. One file of everything took 0.23 s to print --version
 * (1.4 MB parsed at every start), the split one 0.13 s (BENCHMARKS.md §3).
 * The chunks sit in the entry's own directory: code that finds files beside
 * itself (tasks/, the prefetch worker) works from any of them.
 */
export async function bundle(outfile: string): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now();
  const built = await build({
    // The export's read-ahead worker is a file of its own beside the bundle (archive/work-tree-prefetch).
    entryPoints: { [basename(outfile, '.mjs')]: join(PROJECT, 'src', 'cli', 'index.ts'), 'work-tree-prefetch.worker': join(PROJECT, 'src', 'archive', 'work-tree-prefetch.worker.ts') },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: NATIVE,
    minify: true,
    legalComments: 'eof',
    define: { PROXSAVE_BUNDLED: 'true' },
    // CommonJS dependencies bundled into an ES module still call require().
    banner: { js: "import { createRequire as __proxsaveRequire } from 'node:module'; const require = __proxsaveRequire(import.meta.url);" },
    logLevel: 'warning',
    metafile: true,
  });
  // Debian's node is /usr/bin/node; esbuild keeps the entry's `#!/usr/bin/env -S node FLAGS`,
  // whose flags stay (one argument after the interpreter, as Linux passes it).
  const source = readFileSync(outfile, 'utf8');
  const flags = /^#!\/usr\/bin\/env -S node (.+)\n/.exec(source)?.[1] ?? '';
  if (/\s/.test(flags.trim())) throw new Error(`the CLI entry's first line has more than one node flag (${flags}): a #! line passes only one`);
  writeFileSync(outfile, `#!/usr/bin/node${flags ? ` ${flags.trim()}` : ''}\n${source.replace(/^#!.*\n/, '')}`);
  chmodSync(outfile, 0o755);
  // The entry, the worker and every chunk.
  const bytes = Object.values(built.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { bytes, ms: performance.now() - t0 };
}

function write(path: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, content);
  chmodSync(path, mode);
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function changelog(version: string, date: Date): Buffer {
  const rfc2822 = date.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1, $2 $3 $4 $5 +0000');
  const text = `proxsave (${version}) unstable; urgency=medium\n\n  * Package built from the proxsave source tree.\n\n -- proxsave maintainers <proxsave@example.org>  ${rfc2822}\n`;
  return gzipSync(Buffer.from(text), { level: 9 });
}

function copyright(): string {
  const deps = ['chalk', 'diff', 'execa', 'isomorphic-git', 'tar-stream', 'yaml', 'zod'];
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: proxsave

Files: *
Copyright: 2026 proxsave authors
License: MIT

Files: usr/share/proxsave/proxsave.mjs usr/share/proxsave/work-tree-prefetch.worker.mjs
Copyright: 2026 proxsave authors, and the authors of the bundled npm modules
 ${deps.join(', ')} and their dependencies (their license notices are kept at
 the end of the file)
License: MIT

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
`;
}

export async function buildDeb({ outDir = join(PROJECT, 'build'), workDir = join(outDir, 'deb-root') }: BuildDebOptions = {}): Promise<BuiltDeb> {
  const pkg = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string; description: string };
  const version = pkg.version;
  const epoch = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : Math.floor(Date.now() / 1000);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true, mode: 0o755 });
  const r = (p: string) => join(workDir, p);

  const share = r('usr/share/proxsave');
  mkdirSync(share, { recursive: true, mode: 0o755 });
  const b = await bundle(join(share, 'proxsave.mjs'));
  cpSync(join(PROJECT, 'tasks'), join(share, 'tasks'), { recursive: true });
  for (const f of walk(join(share, 'tasks'))) chmodSync(f, 0o644);
  mkdirSync(r('usr/bin'), { recursive: true, mode: 0o755 });
  symlinkSync('../share/proxsave/proxsave.mjs', r('usr/bin/proxsave'));

  // The documented template, every key with its default: the conffile.
  write(r('etc/proxsave/backup.env'), renderTemplate(), 0o600);
  chmodSync(r('etc/proxsave'), 0o700);

  // Units for the default paths; `proxsave schedule install` rewrites them for the configured ones.
  const { config } = loadConfig({ env: {} });
  const unit = { config, bin: '/usr/bin/proxsave', configFile: '/etc/proxsave/backup.env' };
  write(r('lib/systemd/system/proxsave.service'), renderService(unit));
  write(r('lib/systemd/system/proxsave.timer'), renderTimer(unit));

  const date = new Date(epoch * 1000);
  write(r('usr/share/man/man1/proxsave.1.gz'), gzipSync(Buffer.from(await renderMan({ version, date: date.toISOString().slice(0, 10) })), { level: 9 }));
  write(r('usr/share/bash-completion/completions/proxsave'), await renderCompletion());
  write(r('usr/share/doc/proxsave/copyright'), copyright());
  write(r('usr/share/doc/proxsave/changelog.gz'), changelog(version, date));
  // Deliberate: the configuration holds tokens, so it is root-only; facts read dpkg's status file (read-only) for the PVE/PBS versions.
  write(
    r('usr/share/lintian/overrides/proxsave'),
    'proxsave: non-standard-dir-perm 0700 != 0755 [etc/proxsave/]\nproxsave: non-standard-file-perm 0600 != 0644 [etc/proxsave/backup.env]\nproxsave: uses-dpkg-database-directly [usr/share/proxsave/proxsave.mjs]\n',
  );
  write(r('usr/share/doc/proxsave/README.md.gz'), gzipSync(readFileSync(join(PROJECT, 'README.md')), { level: 9 }));

  const files = walk(workDir).filter((f) => lstatSync(f).isFile());
  const installedKb = Math.ceil(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
  const control = `Package: proxsave
Version: ${version}
Architecture: all
Maintainer: proxsave maintainers <proxsave@example.org>
Installed-Size: ${installedKb}
Depends: nodejs (>= 20), zstd, xz-utils, sqlite3
Recommends: git
Suggests: rclone, prometheus-node-exporter
Section: admin
Priority: optional
Homepage: https://example.org/proxsave
Description: configuration snapshots and backups for Proxmox VE and PBS
 proxsave gathers the configuration of a Proxmox VE or Proxmox Backup Server
 host (files and command outputs) into a git repository and commits only when
 something changed, so the history records configuration drift. Each commit
 can be exported as a verified, compressed archive and copied to local,
 secondary and rclone targets with retention. A systemd timer runs the job;
 notifications go through the host's own mail system or a webhook, and
 metrics to the node_exporter textfile collector.
`;
  write(r('DEBIAN/control'), control);
  write(r('DEBIAN/conffiles'), '/etc/proxsave/backup.env\n');
  const sums = files
    .filter((f) => !relative(workDir, f).startsWith('DEBIAN/'))
    .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(workDir, f)}`)
    .sort((a, b) => (a.slice(34) < b.slice(34) ? -1 : 1));
  write(r('DEBIAN/md5sums'), sums.join('\n') + '\n');
  for (const d of walk(workDir).map((f) => dirname(f))) if (!d.endsWith('etc/proxsave')) chmodSync(d, 0o755);

  mkdirSync(outDir, { recursive: true });
  const deb = join(outDir, `proxsave_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', workDir, deb], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
  return { deb, version, bundleBytes: b.bytes, bundleMs: b.ms };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--out');
  const r = await buildDeb(i > 0 ? { outDir: resolve(process.argv[i + 1]!) } : {});
  process.stdout.write(`${r.deb} (bundle ${(r.bundleBytes / 1024).toFixed(0)} KiB in ${r.bundleMs.toFixed(0)} ms)\n`);
}
