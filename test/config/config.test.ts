import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from '../../src/config/parse-env.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { ProblemsError, ProxsaveError } from '../../src/core/errors.ts';
import { renderTemplate } from '../../scripts/gen-config-template.ts';
import { PROJECT, runCli, cleanEnv, tempDir } from '../helpers/cli.ts';
import { miniHost } from '../helpers/mini-host.ts';

test('parseEnv: comments, export, quotes, expansion and multi-line lists', () => {
  const text = [
    '# comment',
    'export A=plain # trailing comment',
    "B='lit ${A} $A'",
    'C="x ${A} y"',
    'D="',
    '  /etc/one',
    '  /etc/two"',
    'E=${UNSET:-fallback}',
    'F="say \\"hi\\""',
    'G=',
    'H=a#notacomment',
  ].join('\n');
  const { entries, problems } = parseEnv(text, 'f.env', () => undefined);
  assert.deepEqual(problems, []);
  const m = Object.fromEntries(entries.map((e) => [e.key, e.value]));
  assert.equal(m.A, 'plain');
  assert.equal(m.B, 'lit ${A} $A');
  assert.equal(m.C, 'x plain y');
  assert.equal(m.D, '\n  /etc/one\n  /etc/two');
  assert.equal(m.E, 'fallback');
  assert.equal(m.F, 'say "hi"');
  assert.equal(m.G, '');
  assert.equal(m.H, 'a#notacomment');
  assert.equal(entries.find((e) => e.key === 'E')!.line, 8, 'line numbers survive multi-line values');
});

test('parseEnv: errors carry the line and nothing is executed', () => {
  const { problems } = parseEnv('OK=1\nnot a line\nX="unterminated\nY=$(rm -rf /)\nZ=`id`\n', 'f.env');
  const lines = problems.map((p) => `${p.line}:${p.message}`);
  assert.ok(lines.some((l) => l.startsWith('2:expected KEY=value')), lines.join('|'));
  assert.ok(lines.some((l) => l.startsWith('3:unterminated double quote')), lines.join('|'));
});

test('loadConfig: precedence flag > env > file > default, relative paths, aliases, unknown keys', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    writeFileSync(f, 'SNAPSHOT_PATH=repo\nCOMMAND_TIMEOUT=30\nRETENTION_DAILY=7\nSOME_OLD_KEY=1\nCOMMAND_PATH="stubs /abs/bin"\n');
    const c = loadConfig({ file: f, env: { COMMAND_TIMEOUT: '45' }, flags: { SYSTEM_ROOT_PREFIX: { value: '/tmp', flag: '--root' } } });
    assert.equal(c.config.SNAPSHOT_PATH, join(d.path, 'repo'));
    assert.equal(c.config.COMMAND_TIMEOUT, 45, 'environment beats the file');
    assert.equal(c.config.SYSTEM_ROOT_PREFIX, '/tmp');
    assert.equal(c.config.KEEP_DAILY, 7, 'RETENTION_DAILY is an alias of KEEP_DAILY');
    assert.equal(c.config.COMPRESSION_TYPE, 'zstd');
    assert.deepEqual(c.config.COMMAND_PATH, [join(d.path, 'stubs'), '/abs/bin']);
    assert.ok(c.warnings.some((w) => w.includes(`${f}:4: SOME_OLD_KEY: unknown key`)));
  } finally {
    d.cleanup();
  }
});

test('loadConfig: every invalid value reported as FILE:LINE: KEY: problem (allowed: …)', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    writeFileSync(f, '# x\nCOMMAND_TIMEOUT=0\nCOMPRESSION_TYPE=rar\nSECONDARY_ENABLED=maybe\nMAX_FILE_SIZE=lots\nCOMPRESSION_LEVEL=3\n');
    assert.throws(
      () => loadConfig({ file: f, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ProblemsError);
        const msg = e.message;
        assert.match(msg, new RegExp(`${f}:2: COMMAND_TIMEOUT: 0 is out of range \\(allowed: 1-86400\\)`));
        assert.match(msg, new RegExp(`${f}:3: COMPRESSION_TYPE: "rar" is not a valid value \\(allowed: zstd, xz, gzip, bzip2, lzma, none`));
        assert.match(msg, new RegExp(`${f}:4: SECONDARY_ENABLED: "maybe" is not a boolean \\(allowed: true, false\\)`));
        assert.match(msg, new RegExp(`${f}:5: MAX_FILE_SIZE:`));
        return true;
      },
    );
    writeFileSync(f, 'COMPRESSION_TYPE=gzip\nCOMPRESSION_LEVEL=12\n');
    assert.throws(() => loadConfig({ file: f, env: {} }), /b\.env:2: COMPRESSION_LEVEL: "12" is not a valid level for gzip \(allowed: 1-9\)/);
    writeFileSync(f, 'ENCRYPT_ARCHIVE=true\n');
    assert.throws(() => loadConfig({ file: f, env: {} }), (e: unknown) => e instanceof ProxsaveError && e.code === 'ENCRYPTION');
  } finally {
    d.cleanup();
  }
});

test('loadConfig: MAX_FILE_SIZE=0 is refused with the range (it would skip every file and refuse every command output)', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    for (const v of ['0', '0K', '0.5']) {
      writeFileSync(f, `# x\nMAX_FILE_SIZE=${v}\n`);
      assert.throws(
        () => loadConfig({ file: f, env: {} }),
        (e: unknown) => {
          assert.ok(e instanceof ProblemsError);
          assert.match(e.message, new RegExp(`${f}:2: MAX_FILE_SIZE: "${v.replace('.', '\\.')}" is out of range \\(0 bytes\\): every file larger would be skipped and every command output refused \\(allowed: 1 byte or more: bytes or a number with K, M, G or T \\(e\\.g\\. 64M\\)\\)`));
          return true;
        },
        v,
      );
    }
    assert.throws(() => loadConfig({ file: f, env: { MAX_FILE_SIZE: '0' } }), /environment: MAX_FILE_SIZE: "0" is out of range/);
    writeFileSync(f, 'MAX_FILE_SIZE=1\n');
    assert.equal(loadConfig({ file: f, env: {} }).config.MAX_FILE_SIZE, 1);
    writeFileSync(f, 'MAX_FILE_SIZE=1K\n');
    assert.equal(loadConfig({ file: f, env: {} }).config.MAX_FILE_SIZE, 1024);
  } finally {
    d.cleanup();
  }
});

test('loadConfig: a path that has a default cannot be emptied; the secondary copy cannot be the local one', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    writeFileSync(f, 'LOCK_PATH=\nBACKUP_PATH=\nSNAPSHOT_PATH=""\nLOG_PATH= \nTASKS_PATH=\n');
    assert.throws(
      () => loadConfig({ file: f, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ProblemsError);
        for (const [line, key] of [[1, 'LOCK_PATH'], [2, 'BACKUP_PATH'], [3, 'SNAPSHOT_PATH'], [4, 'LOG_PATH']] as const) assert.match(e.message, new RegExp(`${f}:${line}: ${key}: must not be empty; remove the line to use the default \\(/`));
        assert.doesNotMatch(e.message, /TASKS_PATH/, 'an empty TASKS_PATH means the shipped catalogue');
        return true;
      },
    );
    writeFileSync(f, `BACKUP_PATH=${d.path}/b\nSECONDARY_ENABLED=true\nSECONDARY_PATH=${d.path}/b/\n`);
    assert.throws(() => loadConfig({ file: f, env: {} }), /b\.env:3: SECONDARY_PATH: is BACKUP_PATH \(.*\/b\): a second copy must be another place/);
    writeFileSync(f, `BACKUP_PATH=${d.path}/s\nSNAPSHOT_PATH=${d.path}/s\n`);
    assert.throws(() => loadConfig({ file: f, env: {} }), /b\.env:1: BACKUP_PATH: is SNAPSHOT_PATH/);
    // Disabled, a secondary path equal to the local one is only a leftover.
    writeFileSync(f, `BACKUP_PATH=${d.path}/b\nSECONDARY_ENABLED=false\nSECONDARY_PATH=${d.path}/b\n`);
    assert.doesNotThrow(() => loadConfig({ file: f, env: {} }));
  } finally {
    d.cleanup();
  }
});

test('loadConfig: a required key that was never set is located where the key requiring it was set, not at "default"', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
      writeFileSync(f, text);
      try {
        loadConfig({ file: f, env });
      } catch (e) {
        assert.ok(e instanceof ProblemsError, String(e));
        return e.message;
      }
      assert.fail('no problem reported');
    };
    let m = problems('# x\n\nCLOUD_ENABLED=true\nSECONDARY_ENABLED=yes\n');
    assert.match(m, new RegExp(`${f}:3: CLOUD_REMOTE: required when CLOUD_ENABLED=true`));
    assert.match(m, new RegExp(`${f}:4: SECONDARY_PATH: required when SECONDARY_ENABLED=true`));
    assert.doesNotMatch(m, /default:/);
    // Set, but empty: its own line.
    m = problems('CLOUD_ENABLED=true\nCLOUD_REMOTE=\n');
    assert.match(m, new RegExp(`${f}:2: CLOUD_REMOTE: required when CLOUD_ENABLED=true`));
    // Enabled from the environment: located there.
    assert.match(problems('', { CLOUD_ENABLED: 'true' }), /environment: CLOUD_REMOTE: required when CLOUD_ENABLED=true/);
    // SNAPSHOT_PATH set to the default BACKUP_PATH: reported on the line that was written.
    m = problems('# x\nSNAPSHOT_PATH=/var/lib/proxsave/backup\n');
    assert.match(m, new RegExp(`${f}:2: SNAPSHOT_PATH: is BACKUP_PATH \\(/var/lib/proxsave/backup\\): the archives would land`));
    assert.doesNotMatch(m, /default:/);
  } finally {
    d.cleanup();
  }
});

test('loadConfig: a path starting with ~ is refused (it is not expanded), never made into a directory named ~', async (t) => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    writeFileSync(f, '# x\nSNAPSHOT_PATH=~/snapshots\nBACKUP_PATH="~"\nCOMMAND_PATH=/usr/local/bin:~/bin\nCUSTOM_BACKUP_PATHS=/etc/x ~/.bashrc\nLOG_PATH=~root/log\nLOCK_PATH=./~lock\n');
    assert.throws(
      () => loadConfig({ file: f, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ProblemsError);
        for (const [line, key, v] of [[2, 'SNAPSHOT_PATH', '~/snapshots'], [3, 'BACKUP_PATH', '~'], [4, 'COMMAND_PATH', '~/bin'], [5, 'CUSTOM_BACKUP_PATHS', '~/.bashrc'], [6, 'LOG_PATH', '~root/log']] as const)
          assert.match(e.message, new RegExp(`${f}:${line}: ${key}: "${v}": give an absolute path; ~ is not expanded`), key);
        assert.doesNotMatch(e.message, /LOCK_PATH/, 'a ~ inside a relative path is an ordinary character');
        return true;
      },
    );
    assert.throws(() => loadConfig({ env: { SNAPSHOT_PATH: '~/s' } }), /environment: SNAPSHOT_PATH: "~\/s": give an absolute path/);
    assert.throws(() => loadConfig({ env: {}, flags: { SYSTEM_ROOT_PREFIX: { value: '~/root', flag: '--root' } } }), /flag --root: SYSTEM_ROOT_PREFIX: "~\/root": give an absolute path/);
  } finally {
    d.cleanup();
  }
  // Through the CLI: exit 2, and nothing named ~ is created beside the config.
  const h = miniHost({ extraConfig: 'SNAPSHOT_PATH=~/snapshots\n' });
  t.after(h.cleanup);
  const r = await h.run('snapshot');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /SNAPSHOT_PATH: "~\/snapshots": give an absolute path; ~ is not expanded/);
  assert.equal(existsSync(join(h.base, '~')), false);
});

test('configs/backup.env documents every key and is what the generator writes', () => {
  const text = readFileSync(join(PROJECT, 'configs/backup.env'), 'utf8');
  assert.equal(text, renderTemplate(), 'regenerate with: node --import tsx scripts/gen-config-template.ts > configs/backup.env');
  const loaded = loadConfig({ file: join(PROJECT, 'configs/backup.env'), env: {} });
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.config.SNAPSHOT_PATH, '/var/lib/proxsave/snapshots');
  assert.equal(loaded.config.DISK_SAFETY_FACTOR, 1.5);
  assert.doesNotThrow(() => loadConfig({ file: join(PROJECT, 'configs/demo.env'), env: {} }));
});

test('config check prints every problem and exits 2; any command exits 2 before writing anything', async (t) => {
  const h = miniHost({ extraConfig: 'COMMAND_CONCURRENCY=0\nRETENTION_POLICY=forever\n' });
  t.after(h.cleanup);
  const r = await h.run('config', 'check');
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${h.config}:\\d+: COMMAND_CONCURRENCY: 0 is out of range \\(allowed: 1-64\\)`));
  assert.match(r.stderr, new RegExp(`${h.config}:\\d+: RETENTION_POLICY: "forever" is not a valid value \\(allowed: simple, gfs\\)`));
  for (const cmd of [['snapshot'], ['run'], ['export']]) {
    const x = await h.run(...cmd);
    assert.equal(x.code, 2, `${cmd.join(' ')}: ${x.stderr}`);
  }
  assert.equal(existsSync(h.repo), false, 'no repository was created');
  assert.equal(existsSync(join(h.base, 'backups')), false);
  assert.equal(existsSync(join(h.base, 'log')), false);
  const ok = await runCli(['-c', join(PROJECT, 'configs/backup.env'), 'config', 'check'], { env: cleanEnv({ PATH: process.env.PATH! }) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^COMPRESSION_TYPE=zstd/m);
  assert.match(ok.stdout, /configuration is valid/);
});

test('usage errors exit 2 with a hint', async () => {
  const r = await runCli(['frobnicate'], { env: cleanEnv() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  const r2 = await runCli(['snapshot', '--bogus'], { env: cleanEnv() });
  assert.equal(r2.code, 2);
  const h = await runCli(['--help'], { env: cleanEnv() });
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Exit codes:/);
});
