// Test helpers: a Config built from the KEYS defaults, archive fixtures, and
// loopback servers (rclone serve webdav, s3rver) for the rclone target.
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request, type ServerResponse } from 'node:http';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { KEYS, KEY_NAMES, type Config, type KeyName } from '../../src/config/keys.ts';

function parseDefault(name: KeyName): unknown {
  const def = KEYS[name] as { type: { kind: string }; default: string };
  const v = def.default;
  switch (def.type.kind) {
    case 'bool':
      return v === 'true';
    case 'int':
    case 'number':
      return Number(v);
    case 'list':
      return v.split(/\s+/).filter(Boolean);
    case 'size': {
      const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(v.trim());
      if (!m) throw new Error(`bad size default ${name}=${v}`);
      const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase()]!;
      return Number(m[1]) * mult;
    }
    default:
      return v;
  }
}

export function buildConfig(overrides: Partial<Config> = {}): Config {
  const c: Record<string, unknown> = {};
  for (const k of KEY_NAMES) c[k] = parseDefault(k);
  return { ...(c as Config), ...overrides };
}

import { tempDir } from '../helpers/temp-dir.ts';

export { tempDir };

export function archiveName(hostname: string, time: Date, ext = 'zst'): string {
  const iso = time.toISOString(); // 2026-11-20T03:15:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  return `${hostname}-backup-${stamp}.tar${ext ? '.' + ext : ''}`;
}

export interface FixtureArchive {
  name: string;
  archivePath: string;
  sha256Path: string;
  manifestPath: string;
  sha256: string;
  size: number;
}

/** Writes an archive (random bytes) and its two sidecars into `dir`, as the exporter would. */
export async function makeArchive({
  dir,
  hostname = 'pve1',
  time = new Date('2026-11-20T03:15:00Z'),
  size = 64 * 1024,
  content,
  commit = 'c0ffee',
}: { dir: string; hostname?: string; time?: Date; size?: number; content?: Buffer; commit?: string }): Promise<FixtureArchive> {
  const name = archiveName(hostname, time);
  const data = content ?? randomBytes(size);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const archivePath = join(dir, name);
  await writeFile(archivePath, data);
  await writeFile(archivePath + '.sha256', `${sha256}  ${name}\n`);
  const manifest = { hostname, sha256, archive_size: data.length, created_at: time.toISOString(), snapshot_commit: commit, archive_path: archivePath };
  await writeFile(archivePath + '.manifest.json', JSON.stringify(manifest, null, 2) + '\n');
  return { name, archivePath, sha256Path: archivePath + '.sha256', manifestPath: archivePath + '.manifest.json', sha256, size: data.length };
}

export const rcloneAvailable: boolean = spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;
export const RCLONE_SKIP = 'rclone is not installed (apt-get install rclone): cloud target suites skipped';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The environment rclone runs with in tests: no user config, no CA bundle override. */
export function rcloneEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null', ...extra };
  delete env.AWS_CA_BUNDLE; // rclone 1.60's S3 backend fails when it points at a missing file
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY']) delete env[k];
  return env;
}

export interface WebdavServer {
  port: number;
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Stops the server (kills the process it started). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
}

/** `rclone serve webdav` on 127.0.0.1, serving a temp directory; remote name `dav`. */
export async function startWebdav(): Promise<WebdavServer> {
  const { path: dir } = await tempDir('proxsave-webdav-');
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: WebdavServer = {
    port,
    dir,
    env: rcloneEnv({ RCLONE_CONFIG_DAV_TYPE: 'webdav', RCLONE_CONFIG_DAV_URL: `http://127.0.0.1:${port}/` }),
    async start() {
      child = spawn('rclone', ['serve', 'webdav', '--config', '/dev/null', '--addr', `127.0.0.1:${port}`, dir], { stdio: 'ignore' });
      await waitForPort(port);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    },
  };
  await server.start();
  return server;
}

/**
 * What the fault proxy does to the next requests of one HTTP method (only
 * those whose URL path matches `path`, when given: one file's upload).
 */
export type Fault = { method: string; times: number; path?: RegExp } & ({ status: number } | { hang: true });

export interface FaultProxy {
  /** rclone's environment: remote `dav` reaches the WebDAV server through the proxy. */
  env: NodeJS.ProcessEnv;
  /** Requests of this method that were answered with a fault so far. */
  faulted(method: string): number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of a WebDAV server that answers the first `times`
 * requests of `method` with `status` (or never answers them), then passes
 * everything through: a remote that is busy, refuses, or hangs, seen by the
 * real rclone exactly as it would see a real one.
 */
export async function startFaultProxy(server: WebdavServer, faults: Fault[]): Promise<FaultProxy> {
  const left = faults.map((f) => ({ ...f }));
  const counts = new Map<string, number>();
  const hung = new Set<ServerResponse>();
  const proxy = createHttpServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const f = left.find((x) => x.method === req.method && x.times > 0 && (!x.path || x.path.test(path)));
    if (f) {
      f.times--;
      counts.set(f.method, (counts.get(f.method) ?? 0) + 1);
      req.resume();
      if ('hang' in f) return void hung.add(res);
      res.writeHead(f.status, { 'content-type': 'text/plain' }).end(`simulated ${f.status}\n`);
      return;
    }
    const up = request({ host: '127.0.0.1', port: server.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  return {
    env: { ...server.env, RCLONE_CONFIG_DAV_URL: `http://127.0.0.1:${port}/` },
    faulted: (method) => counts.get(method) ?? 0,
    async stop() {
      for (const r of hung) r.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

export interface S3Server {
  port: number;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** s3rver on 127.0.0.1 with bucket `proxsave`; remote name `s3`. */
export async function startS3(): Promise<S3Server> {
  const specifier = 's3rver'; // untyped CommonJS package: typed locally below
  const { default: S3rver } = (await import(specifier)) as {
    default: new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  };
  const { path: dir, cleanup } = await tempDir('proxsave-s3rver-');
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: 'proxsave' }] });
  const { port } = await s3.run();
  return {
    port,
    env: rcloneEnv({
      RCLONE_CONFIG_S3_TYPE: 's3',
      RCLONE_CONFIG_S3_PROVIDER: 'Other',
      RCLONE_CONFIG_S3_ACCESS_KEY_ID: 'S3RVER',
      RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'S3RVER',
      RCLONE_CONFIG_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      RCLONE_CONFIG_S3_REGION: 'us-east-1',
      RCLONE_CONFIG_S3_FORCE_PATH_STYLE: 'true',
    }),
    async stop() {
      await s3.close();
      await cleanup();
    },
  };
}
