// A glob list key (CUSTOM_BACKUP_PATHS, BACKUP_EXCLUDE_PATTERNS) naming a
// path with a space or a comma in it: `\ ` (in or out of quotes, or in the
// environment) or a bracket expression `[ ]`, from backup.env to the
// snapshot repository.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load-config.ts';
import { parseEnv } from '../../src/config/parse-env.ts';
import { tempDir } from '../helpers/cli.ts';
import { fsck, git } from '../helpers/git.ts';
import { miniHost } from '../helpers/mini-host.ts';

test('parseEnv: a backslash before a space reaches a glob list in every quoting; other keys read the shell value', () => {
  const text = ['U=/opt/my\\ app /srv/x', 'D="/opt/my\\ app /srv/x"', "S='/opt/my\\ app'", 'C=/opt/a\\,b', 'P=/srv/my\\ backups'].join('\n');
  const { entries, problems } = parseEnv(text, 'b.env');
  assert.deepEqual(problems, []);
  const by = Object.fromEntries(entries.map((e) => [e.key, e]));
  // Unquoted, the shell drops the backslash (value); a glob list keeps it (listValue).
  assert.equal(by.U!.value, '/opt/my app /srv/x');
  assert.equal(by.U!.listValue, '/opt/my\\ app /srv/x');
  // In double quotes `\ ` is not an escape, in single quotes nothing is: the backslash stays.
  assert.equal(by.D!.value, '/opt/my\\ app /srv/x');
  assert.equal(by.D!.listValue, undefined);
  assert.equal(by.S!.value, '/opt/my\\ app');
  assert.equal(by.C!.listValue, '/opt/a\\,b');
  assert.equal(by.P!.value, '/srv/my backups');
});

test('loadConfig: CUSTOM_BACKUP_PATHS and BACKUP_EXCLUDE_PATTERNS take a space as \\  (quoted or not, file or environment) or [ ]', () => {
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    const custom = (line: string, env: NodeJS.ProcessEnv = {}) => {
      writeFileSync(f, `${line}\n`);
      return loadConfig({ file: f, env }).config.CUSTOM_BACKUP_PATHS;
    };
    assert.deepEqual(custom('CUSTOM_BACKUP_PATHS="/opt/my\\ app /srv/x"'), ['/opt/my app', '/srv/x']);
    assert.deepEqual(custom("CUSTOM_BACKUP_PATHS='/opt/my\\ app'"), ['/opt/my app']);
    assert.deepEqual(custom('CUSTOM_BACKUP_PATHS=/opt/my\\ app /srv/x'), ['/opt/my app', '/srv/x']);
    assert.deepEqual(custom('CUSTOM_BACKUP_PATHS="/opt/my[ ]app, /srv/a\\,b"'), ['/opt/my[ ]app', '/srv/a,b']);
    assert.deepEqual(custom('CUSTOM_BACKUP_PATHS="\n  /opt/my\\ app\n  /opt/other\n"'), ['/opt/my app', '/opt/other'], 'in a multi-line block');
    assert.deepEqual(custom('', { CUSTOM_BACKUP_PATHS: '/opt/my\\ app /srv/x' }), ['/opt/my app', '/srv/x'], 'from the environment');
    writeFileSync(f, 'BACKUP_EXCLUDE_PATTERNS=/opt/my\\ app/cache/** /opt/my[ ]app/*.tmp\nBACKUP_PATH=/srv/my\\ backups\n');
    const c = loadConfig({ file: f, env: {} }).config;
    assert.deepEqual(c.BACKUP_EXCLUDE_PATTERNS, ['/opt/my app/cache/**', '/opt/my[ ]app/*.tmp']);
    assert.equal(c.BACKUP_PATH, '/srv/my backups', 'a path key keeps the shell value');
  } finally {
    d.cleanup();
  }
});

test('snapshot collects a directory whose name has a space, named with \\  or [ ] in CUSTOM_BACKUP_PATHS; the excludes take the same forms', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  h.write('/opt/my app/app.conf', 'listen=8080\n');
  h.write('/opt/my app/cache/blob', 'CACHED\n');
  h.write('/opt/my app/run.tmp', 'TMP\n');
  h.write('/srv/data dir/x,y.conf', 'x=1\n');
  h.write('/srv/data dir/other.conf', 'o=1\n');
  h.write('/opt/myXapp/decoy.conf', 'decoy\n');
  writeFileSync(
    h.config,
    readFileSync(h.config, 'utf8') +
      [
        'CUSTOM_BACKUP_PATHS="/opt/my\\ app',
        '  /srv/data[ ]dir/x[,]y.conf"',
        'BACKUP_EXCLUDE_PATTERNS=/opt/my\\ app/cache /opt/my[ ]app/*.tmp',
        '',
      ].join('\n'),
  );
  const check = await h.run('config', 'check');
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^CUSTOM_BACKUP_PATHS=\/opt\/my\\ app \/srv\/data\[ \]dir\/x\[,\]y\.conf\b/m, 'shown as it would be written');
  const r = await h.run('snapshot');
  assert.equal(r.code, 0, r.stderr);
  fsck(h.repo);
  const files = git(h.repo, 'ls-files', 'opt', 'srv');
  assert.match(files, /^opt\/my app\/app\.conf$/m);
  assert.match(files, /^srv\/data dir\/x,y\.conf$/m);
  assert.doesNotMatch(files, /other\.conf|decoy|cache|run\.tmp/, files);
  assert.equal(git(h.repo, 'show', 'HEAD:opt/my app/app.conf'), 'listen=8080\n');
  assert.match(git(h.repo, 'show', 'HEAD:.proxsave/metadata'), /opt\/my app\/app\.conf/);
  const again = JSON.parse((await h.run('--json', 'snapshot')).stdout) as { commit: string | null };
  assert.equal(again.commit, null, 'a second snapshot sees no drift');
});
