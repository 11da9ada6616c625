// Push throughput of a 200 MB archive, against the plain tools:
//  - local/secondary DirectoryTarget.put (copy + fsync + re-hash + rename) vs `cp` + `sha256sum` (goal ≥ 0.8×)
//  - RcloneTarget.put to a loopback `rclone serve webdav` vs a bare `rclone copyto` (goal within 1.2×)
// Run: node --import tsx bench/push.bench.ts [sizeMB]
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryTarget } from '../src/storage/directory-target.ts';
import { Rclone } from '../src/storage/rclone.ts';
import { RcloneTarget } from '../src/storage/rclone-target.ts';
import { archiveName, rcloneAvailable, startWebdav, tempDir } from '../test/storage/helpers.ts';

const sizeMb = Number(process.argv[2] ?? 200);
const runs = 3;

async function writeRandom(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk = randomBytes(1 << 20);
  for (let done = 0; done < bytes; done += chunk.length) {
    if (!out.write(chunk.subarray(0, Math.min(chunk.length, bytes - done)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

async function best(fn: () => Promise<void> | void, reset: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    await reset();
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min / 1000;
}

const work = await tempDir('proxsave-bench-');
const src = join(work.path, 'src');
const dst = join(work.path, 'dst');
execFileSync('mkdir', ['-p', src, dst]);
const name = archiveName('bench', new Date('2026-11-20T03:15:00Z'));
const archivePath = join(src, name);
await writeRandom(archivePath, sizeMb * 1024 * 1024);
const sha256 = execFileSync('sha256sum', [archivePath], { encoding: 'utf8' }).split(' ')[0]!;
execFileSync('sh', ['-c', `printf '%s  %s\\n' ${sha256} ${name} > '${archivePath}.sha256'; echo '{"hostname":"bench"}' > '${archivePath}.manifest.json'`]);
const files = { archivePath, sha256Path: archivePath + '.sha256', manifestPath: archivePath + '.manifest.json' };
const expected = { sha256, size: sizeMb * 1024 * 1024, localPath: archivePath };
const clearDst = async () => {
  await rm(dst, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', dst]);
};
const mbps = (s: number) => `${(sizeMb / s).toFixed(0)} MB/s`;

console.log(`push.bench: ${sizeMb} MB archive, best of ${runs}, tmpdir ${work.path}`);
const target = new DirectoryTarget({ kind: 'secondary', path: dst, critical: false, failureCode: 'TARGET', create: false });
const ours = await best(async () => {
  await target.put(files, expected);
}, clearDst);
const tools = await best(() => {
  execFileSync('cp', [archivePath, join(dst, name)]);
  execFileSync('sha256sum', [join(dst, name)]);
}, clearDst);
console.log(`directory: DirectoryTarget.put ${ours.toFixed(2)} s (${mbps(ours)}) vs cp+sha256sum ${tools.toFixed(2)} s (${mbps(tools)}): ${(tools / ours).toFixed(2)}× throughput (goal ≥ 0.8×)`);

if (rcloneAvailable) {
  const server = await startWebdav();
  const rclone = new Rclone({ env: server.env, retries: 0 });
  // A fresh remote directory per run: the server's directory cache would otherwise
  // make rclone skip the "unchanged" file and measure nothing.
  let run = 0;
  const nextDir = async () => {
    run++;
  };
  const oursCloud = await best(async () => {
    await new RcloneTarget({ rclone, remote: 'dav', remotePath: `ours${run}`, critical: false }).put(files, expected);
  }, nextDir);
  const bare = await best(() => {
    execFileSync('rclone', ['copyto', '--config', '/dev/null', archivePath, `dav:bare${run}/${name}`], { env: server.env });
  }, nextDir);
  console.log(`rclone→webdav: RcloneTarget.put ${oursCloud.toFixed(2)} s (${mbps(oursCloud)}) vs bare rclone copyto ${bare.toFixed(2)} s (${mbps(bare)}): ${(oursCloud / bare).toFixed(2)}× time (goal ≤ 1.2×)`);
  await server.stop();
} else {
  console.log('rclone→webdav: skipped (rclone not installed)');
}
await work.cleanup();
