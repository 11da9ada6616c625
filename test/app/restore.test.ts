// restore end to end on the example hosts: snapshot -> run (export + push to
// local, secondary and rclone webdav) -> restore --to from each source ->
// the tree is the host's own (names, bytes, modes, owners, symlinks).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HOST_NAMES, hostWithWorkDir, type HostName } from '../helpers/hosts.ts';
import { cleanEnv } from '../helpers/cli.ts';
import { cli } from '../helpers/in-process.ts';
import { treeState } from '../helpers/tree-state.ts';
import { rcloneAvailable, startWebdav, type WebdavServer } from '../storage/helpers.ts';

let server: WebdavServer | undefined;
before(async () => {
  if (!rcloneAvailable) return;
  server = await startWebdav();
  // `run` builds its rclone from process.env.
  for (const [k, v] of Object.entries(server.env)) if (k.startsWith('RCLONE_')) process.env[k] = v;
});
after(async () => {
  await server?.stop();
});

const COMPRESSION: Record<HostName, string> = { 'pve-cluster': 'zstd', 'pve-standalone': 'xz', pbs: 'gzip', dual: 'none' };

for (const name of HOST_NAMES) {
  test(`restore round trip on ${name} (${COMPRESSION[name]}): --rev, local, secondary${rcloneAvailable ? ', cloud' : ''}`, async (t) => {
    const { host, work } = await hostWithWorkDir(t, name);
    const w = (p: string) => path.join(work.path, p);
    fs.mkdirSync(w('secondary'));
    const config = w('backup.env');
    fs.writeFileSync(
      config,
      [
        `SYSTEM_ROOT_PREFIX=${host.root}`,
        `SNAPSHOT_PATH=${w('repo')}`,
        `COMMAND_PATH=${host.bin}`,
        `BACKUP_PATH=${w('local')}`,
        `LOG_PATH=${w('log')}`,
        `LOCK_PATH=${w('lock')}`,
        `COMPRESSION_TYPE=${COMPRESSION[name]}`,
        'MIN_DISK_SPACE_PRIMARY_GB=0',
        'MIN_DISK_SPACE_SECONDARY_GB=0',
        'MIN_DISK_SPACE_CLOUD_GB=0',
        'SECONDARY_ENABLED=true',
        `SECONDARY_PATH=${w('secondary')}`,
        ...(server ? ['CLOUD_ENABLED=true', 'CLOUD_REMOTE=dav', `CLOUD_REMOTE_PATH=backups/${name}`, 'RCLONE_RETRIES=0'] : []),
        '',
      ].join('\n'),
    );
    // A hard link and a name that is not UTF-8 (issue 8 records both in the snapshot).
    fs.mkdirSync(path.join(host.root, 'etc/network/interfaces.d'), { recursive: true });
    fs.writeFileSync(path.join(host.root, 'etc/network/interfaces.d/vlans'), 'auto vmbr0.10\n');
    fs.linkSync(path.join(host.root, 'etc/network/interfaces.d/vlans'), path.join(host.root, 'etc/network/interfaces.d/vlans.link'));
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(host.root, 'etc/network/interfaces.d/caf')), Buffer.from([0xe9])]), 'latin-1 name\n');
    const env = cleanEnv(server ? Object.fromEntries(Object.entries(server.env).filter(([k]) => k.startsWith('RCLONE_'))) as Record<string, string> : {});
    const run = (...a: string[]) => cli(['-c', config, ...a], env);
    const r = await run('run', '-q');
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const sources: [string, string[]][] = [
      ['rev', ['--rev', 'HEAD']],
      ['local', ['--target', 'local', '--latest']],
      ['secondary', ['--target', 'secondary', '--latest']],
      ...(server ? ([['cloud', ['--target', 'cloud', '--latest']]] as [string, string[]][]) : []),
    ];
    let first: Map<string, string> | undefined;
    for (const [label, args] of sources) {
      const dest = w(`out-${label}`);
      const res = await run('restore', ...args, '--to', dest);
      assert.equal(res.code, 0, `${label}: ${res.stderr}`);
      const state = treeState(dest);
      assert.ok(!state.has('.proxsave') && !state.has('var/lib/proxsave-info'), 'internal trees left out by default');
      if (first) assert.deepEqual(state, first, `${label} gives the same tree as --rev`);
      else first = state;
    }
    // Every restored path is the host's own: bytes, mode, owner, link target.
    const live = treeState(host.root);
    // config.db is collected as an online SQLite copy (the sqlite module), not byte for byte.
    const diffs = [...first!].filter(([p, v]) => p !== '.' && p !== 'var/lib/pve-cluster/config.db' && live.get(p) !== v).map(([p, v]) => `${p}: restored ${v.slice(0, 60)} live ${live.get(p)?.slice(0, 60)}`);
    assert.deepEqual(diffs, []);
    assert.ok(first!.has('etc/network/interfaces.d/caf\xe9'), 'the non-UTF-8 name came back as its bytes');
    for (const label of sources.map(([l]) => l)) {
      const out = w(`out-${label}`);
      const a = fs.statSync(path.join(out, 'etc/network/interfaces.d/vlans.link'));
      assert.equal(a.ino, fs.statSync(path.join(out, 'etc/network/interfaces.d/vlans')).ino, `${label}: the hard link is a hard link`);
      assert.equal(a.nlink, 2);
    }
    const info = await run('restore', '--rev', 'HEAD', '--with-info', '--to', w('with-info'));
    assert.equal(info.code, 0, info.stderr);
    assert.ok(fs.existsSync(w('with-info/.proxsave/metadata')));
  });
}

test('restore: exactly one source and one mode', async () => {
  const env = cleanEnv();
  const r = await cli(['restore', '--to', '/nonexistent-x'], env);
  assert.equal(r.code, 2);
  const r2 = await cli(['restore', '--rev', 'HEAD', '--to', '/x', '--check'], env);
  assert.equal(r2.code, 2);
});
