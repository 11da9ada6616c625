// Restore and verify --download from a cloud target whose CLOUD_REMOTE_PATH is
// absolute: the download must use the path exactly as configured (issue 9's rule).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hostWithWorkDir } from '../helpers/hosts.ts';
import { cleanEnv, PROJECT } from '../helpers/cli.ts';
import { cli } from '../helpers/in-process.ts';
import { rcloneAvailable } from '../storage/helpers.ts';

test('restore --target cloud and verify --download read an absolute CLOUD_REMOTE_PATH as configured', { skip: rcloneAvailable ? false : 'rclone is not installed' }, async (t) => {
  const { host, work } = await hostWithWorkDir(t, 'pve-standalone');
  const w = (p: string) => path.join(work.path, p);
  const cloudDir = w('srv/backups'); // absolute: with the leading / lost it would be read relative to the cwd
  fs.mkdirSync(cloudDir, { recursive: true });
  const config = w('backup.env');
  fs.writeFileSync(config, [`SYSTEM_ROOT_PREFIX=${host.root}`, `SNAPSHOT_PATH=${w('repo')}`, `COMMAND_PATH=${host.bin}`, `BACKUP_PATH=${w('local')}`, `LOCK_PATH=${w('lock')}`, `LOG_PATH=${w('log')}`, 'MIN_DISK_SPACE_PRIMARY_GB=0', 'MIN_DISK_SPACE_CLOUD_GB=0', 'CLOUD_ENABLED=true', 'CLOUD_REMOTE=box', `CLOUD_REMOTE_PATH=${cloudDir}`, ''].join('\n'));
  const env = cleanEnv({ RCLONE_CONFIG_BOX_TYPE: 'local', RCLONE_CONFIG: '/dev/null' });
  const run = (...a: string[]) => cli(['-c', config, ...a], env);
  assert.equal((await run('run')).code, 0);
  assert.equal(fs.readdirSync(cloudDir).filter((f) => f.endsWith('.tar.zst')).length, 1);
  const to = w('restored');
  const r = await run('restore', '--target', 'cloud', '--latest', '--to', to);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(to, 'etc/pve/storage.cfg'), 'utf8'), fs.readFileSync(path.join(host.root, 'etc/pve/storage.cfg'), 'utf8'));
  const v = await run('verify', '--target', 'cloud', '--all', '--download');
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^ok /m);
  assert.equal(fs.existsSync(path.join(PROJECT, cloudDir.slice(1))), false, 'nothing read or written relative to the cwd');
});
