// age encryption: export writes .tar.<ext>.age that the age CLI decrypts,
// proxsave restores and verifies it with AGE_IDENTITY_FILE (exit 15 without
// it or with a wrong key), and proxsave reads what `age -r` wrote. Both
// engines (CLI and the age-encryption library).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseArchiveName } from '../../src/archive/archive-name.ts';
import { miniHost } from '../helpers/mini-host.ts';
import { cleanEnv } from '../helpers/cli.ts';
import { cli } from '../helpers/in-process.ts';
import { treeState } from '../helpers/tree-state.ts';

const hasAge = spawnSync('age', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasAge ? false : 'the age CLI is not installed (apt-get install age)';

function keygen(dir: string, name: string): { file: string; recipient: string } {
  const file = path.join(dir, name);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  return { file, recipient: /age1[0-9a-z]+/.exec(fs.readFileSync(file, 'utf8'))![0] };
}

async function setup(t: { after(fn: () => unknown): void }, extra: (w: (p: string) => string) => string[]) {
  // The small test host: what is encrypted matters here, not how much of a host it is.
  const host = miniHost();
  t.after(host.cleanup);
  const w = (p: string) => path.join(host.base, 'work', p);
  fs.mkdirSync(w(''));
  const config = w('backup.env');
  const write = (lines: string[]) => fs.writeFileSync(config, [`SYSTEM_ROOT_PREFIX=${host.root}`, `SNAPSHOT_PATH=${w('repo')}`, `TASKS_PATH=${host.tasks}`, `COMMAND_PATH=${host.bin}`, `BACKUP_PATH=${w('local')}`, `LOCK_PATH=${w('lock')}`, `LOG_PATH=${w('log')}`, 'MIN_DISK_SPACE_PRIMARY_GB=0', ...lines, ''].join('\n'));
  write(extra(w));
  const run = (...a: string[]) => cli(['-c', config, ...a], cleanEnv());
  return { host, w, run, write };
}

test('archive names with .age parse, for listing and retention', () => {
  const p = parseArchiveName('pve1-backup-20240102-030405.tar.zst.age')!;
  assert.equal(p.compression, 'zstd');
  assert.equal(p.encrypted, true);
  assert.equal(p.ext, 'tar.zst.age');
  assert.equal(parseArchiveName('pve1-backup-20240102-030405.tar.age')?.hostname, 'pve1');
  assert.equal(parseArchiveName('pve1-backup-20240102-030405.tar.zst.age.sha256'), null);
});

for (const engine of ['cli', 'library'] as const) {
  test(`ENCRYPT_ARCHIVE with AGE_ENGINE=${engine}: age -d reads it, restore/verify decrypt it, a wrong or missing key exits 15`, { skip }, async (t) => {
    let key!: { file: string; recipient: string };
    const { w, run, write } = await setup(t, (w) => {
      key = keygen(path.dirname(w('x')), 'key.txt');
      return ['ENCRYPT_ARCHIVE=true', `AGE_RECIPIENT=${key.recipient}`, `AGE_ENGINE=${engine}`];
    });
    const r = await run('run', '-q');
    assert.equal(r.code, 0, r.stderr);
    const name = fs.readdirSync(w('local')).find((f) => f.endsWith('.tar.zst.age'))!;
    assert.ok(name, 'archive is .tar.zst.age');
    const archive = path.join(w('local'), name);
    assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
    const manifest = JSON.parse(fs.readFileSync(`${archive}.manifest.json`, 'utf8')) as { encryption_mode: string; sha256: string };
    assert.equal(manifest.encryption_mode, 'age');
    execFileSync('sha256sum', ['-c', `${name}.sha256`], { cwd: w('local') }); // sidecars are of the encrypted file
    const list = execFileSync('sh', ['-c', `age -d -i '${key.file}' '${archive}' | zstd -dc | tar -tf -`]).toString();
    assert.match(list, /^\.\/etc\/pve\/storage\.cfg$/m, 'age CLI + zstd + tar read what proxsave wrote');

    const noKey = await run('restore', archive, '--to', w('out0'));
    assert.equal(noKey.code, 15, noKey.stderr);
    assert.match(noKey.stderr, /AGE_IDENTITY_FILE/);
    const other = keygen(path.dirname(w('x')), 'other.txt');
    write(['ENCRYPT_ARCHIVE=true', `AGE_RECIPIENT=${key.recipient}`, `AGE_ENGINE=${engine}`, `AGE_IDENTITY_FILE=${other.file}`]);
    const wrong = await run('restore', archive, '--to', w('out1'));
    assert.equal(wrong.code, 15, wrong.stderr);
    assert.ok(!fs.existsSync(w('out1')));
    write(['ENCRYPT_ARCHIVE=true', `AGE_RECIPIENT=${key.recipient}`, `AGE_ENGINE=${engine}`, `AGE_IDENTITY_FILE=${key.file}`]);
    const ok = await run('restore', '--target', 'local', '--latest', '--to', w('out2'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await run('restore', '--rev', 'HEAD', '--to', w('out3'))).code, 0);
    assert.deepEqual(treeState(w('out2')), treeState(w('out3')));
    const v = await run('verify', '--target', 'local', '--all');
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.equal((await run('verify', archive)).code, 0);
    // A damaged header (a byte of the recipient stanza's wrapped key) reads
    // like a wrong key to age; the sidecar tells it apart: exit 8, not 15.
    const sound = fs.readFileSync(archive);
    const h = Buffer.from(sound);
    const stanza = h.indexOf('\n-> X25519 ');
    const wrapped = h.indexOf('\n', h.indexOf('\n', stanza + 1) + 1) - 5;
    h[wrapped] = h[wrapped] === 0x41 ? 0x42 : 0x41;
    fs.writeFileSync(archive, h);
    const header = await run('verify', archive);
    assert.equal(header.code, 8, header.stdout + header.stderr);
    assert.match(header.stdout + header.stderr, /does not match the sidecar/);
    fs.writeFileSync(archive, sound);
    // A damaged ciphertext is a verification error.
    const b = fs.readFileSync(archive);
    b[b.length - 20]! ^= 0x01;
    fs.writeFileSync(archive, b);
    assert.equal((await run('verify', archive)).code, 8);
  });
}

test('proxsave restores what `age -r` wrote (library engine)', { skip }, async (t) => {
  const { w, run, write } = await setup(t, () => []);
  assert.equal((await run('run', '-q')).code, 0);
  const plain = fs.readdirSync(w('local')).find((f) => f.endsWith('.tar.zst'))!;
  const key = keygen(w(''), 'key.txt');
  const enc = `${plain}.age`;
  execFileSync('age', ['-r', key.recipient, '-o', w(`local/${enc}`), w(`local/${plain}`)]);
  const data = fs.readFileSync(w(`local/${enc}`));
  const sha = crypto.createHash('sha256').update(data).digest('hex');
  fs.writeFileSync(w(`local/${enc}.sha256`), `${sha}  ${enc}\n`);
  const m = JSON.parse(fs.readFileSync(w(`local/${plain}.manifest.json`), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(w(`local/${enc}.manifest.json`), JSON.stringify({ ...m, archive_path: w(`local/${enc}`), sha256: sha, archive_size: data.length, encryption_mode: 'age' }));
  write([`AGE_IDENTITY_FILE=${key.file}`, 'AGE_ENGINE=library']);
  const r = await run('restore', w(`local/${enc}`), '--to', w('out'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await run('restore', '--rev', 'HEAD', '--to', w('out-rev'))).code, 0);
  assert.deepEqual(treeState(w('out')), treeState(w('out-rev')));
});

test('ENCRYPT_ARCHIVE=true without a recipient exits 15 before anything is written', async (t) => {
  const { w, run } = await setup(t, () => ['ENCRYPT_ARCHIVE=true']);
  const r = await run('run');
  assert.equal(r.code, 15, r.stderr);
  assert.match(r.stderr, /AGE_RECIPIENT/);
  assert.ok(!fs.existsSync(w('repo')));
});
