// Globs over host paths: what they match, and a malformed one is a clear
// CONFIG error (exit 2) wherever it comes from: a config key, --paths.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load-config.ts';
import { isProxsaveError, ProblemsError } from '../../src/core/errors.ts';
import { globProblem, globToRegExp, joinGlobs, splitGlobs } from '../../src/util/glob.ts';
import { runCli, tempDir } from '../helpers/cli.ts';

test('glob classes take ] first as a member; a backslash is an ordinary character', () => {
  const m = (g: string, p: string) => globToRegExp(g).test(p);
  assert.ok(m('/etc/[]]x', '/etc/]x'));
  assert.ok(m('/etc/[!]]x', '/etc/ax') && !m('/etc/[!]]x', '/etc/]x'));
  assert.ok(m('/etc/a[*]b', '/etc/a*b') && !m('/etc/a[*]b', '/etc/axb'), '[*] is a literal star');
  assert.ok(m('/etc/[[]x', '/etc/[x'));
  assert.ok(m('/etc/{pve,network}/**', '/etc/network/interfaces'));
  assert.ok(m('/etc/[^a]', '/etc/b') && !m('/etc/[^a]', '/etc/a'), 'a leading ^ negates, as in bash');
  // The names systemd writes for mount and swap units.
  assert.ok(m('/etc/systemd/system/dev-disk-by\\x2duuid-*.swap', '/etc/systemd/system/dev-disk-by\\x2duuid-1234.swap'));
  assert.ok(m('/etc/[a\\]', '/etc/\\'));
  assert.ok(m('/etc/[oops', '/etc/[oops'), 'an unclosed [ is itself');
});

test('a malformed glob is a CONFIG error naming it: unclosed {, a backwards range', async () => {
  assert.equal(globProblem('/etc/{pve,network}/*.cfg'), undefined);
  assert.equal(globProblem('/etc/{pve'), 'a { is not closed');
  assert.equal(globProblem('/etc/[z-a]'), 'the range z-a in [z-a] is backwards');
  for (const g of ['/etc/{pve', '/etc/[z-a]', '/etc/{a,{b}']) {
    assert.throws(() => globToRegExp(g), (e) => isProxsaveError(e) && e.code === 'CONFIG' && e.message.startsWith(`malformed glob ${JSON.stringify(g)}: `), g);
  }
  const d = tempDir();
  try {
    const f = join(d.path, 'b.env');
    // Commas inside braces stay in their glob.
    writeFileSync(f, 'BACKUP_EXCLUDE_PATTERNS="/etc/{pve,network}/*.tmp, /var/tmp/**\n  /root/.cache"\n');
    assert.deepEqual(loadConfig({ file: f, env: {} }).config.BACKUP_EXCLUDE_PATTERNS, ['/etc/{pve,network}/*.tmp', '/var/tmp/**', '/root/.cache']);
    writeFileSync(f, '# x\nBACKUP_EXCLUDE_PATTERNS=/etc/{pve\nCUSTOM_BACKUP_PATHS=/srv/[z-a]\n');
    assert.throws(
      () => loadConfig({ file: f, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ProblemsError);
        assert.match(e.message, new RegExp(`${f}:2: BACKUP_EXCLUDE_PATTERNS: the glob "/etc/\\{pve" is malformed: a \\{ is not closed`));
        assert.match(e.message, new RegExp(`${f}:3: CUSTOM_BACKUP_PATHS: the glob "/srv/\\[z-a\\]" is malformed: the range z-a`));
        return true;
      },
    );
    const check = await runCli(['-c', f, 'config', 'check']);
    assert.equal(check.code, 2, 'config check reports it');
    // --paths of a restore: exit 2 with the glob named, no stack trace.
    writeFileSync(f, `SNAPSHOT_PATH=${d.path}/repo\nBACKUP_PATH=${d.path}/b\nLOG_PATH=${d.path}/l\nLOCK_PATH=${d.path}/k\n`);
    const r = await runCli(['-c', f, 'restore', '--rev', 'HEAD', '--check', '--paths', '/etc/{pve']);
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|at .*\.ts:\d+/);
  } finally {
    d.cleanup();
  }
});

test('splitGlobs: a space or comma inside a glob is escaped (\\ , \\,) or bracketed ([ ], [,]); other backslashes stay', () => {
  assert.deepEqual(splitGlobs('/etc/a /etc/b,/etc/c\n /etc/{x,y}/*'), ['/etc/a', '/etc/b', '/etc/c', '/etc/{x,y}/*']);
  // Escaped: the character itself, the backslash dropped.
  assert.deepEqual(splitGlobs('/opt/my\\ app /srv/x'), ['/opt/my app', '/srv/x']);
  assert.deepEqual(splitGlobs('/opt/a\\,b,/opt/tab\\\tx'), ['/opt/a,b', '/opt/tab\tx']);
  assert.deepEqual(splitGlobs('/opt/{one\\,two,three}'), ['/opt/{one[,]two,three}'], 'an escaped comma in braces is a literal comma');
  assert.ok(globToRegExp('/opt/{one[,]two,three}').test('/opt/one,two') && !globToRegExp('/opt/{one[,]two,three}').test('/opt/one'));
  // In a bracket expression whitespace and commas are members, not separators.
  assert.deepEqual(splitGlobs('/opt/my[ ]app, /srv/a[,]b /srv/[ab ]c'), ['/opt/my[ ]app', '/srv/a[,]b', '/srv/[ab ]c']);
  assert.deepEqual(splitGlobs('/etc/[{]x,/etc/y'), ['/etc/[{]x', '/etc/y'], 'a [{] opens no braces');
  // A [ that closes only across a / or a line, or never, is an ordinary character.
  assert.deepEqual(splitGlobs('/srv/a[ /srv/b]'), ['/srv/a[', '/srv/b]']);
  assert.deepEqual(splitGlobs('/srv/[oops /srv/x'), ['/srv/[oops', '/srv/x']);
  assert.deepEqual(splitGlobs('/srv/a[\n]'), ['/srv/a[', ']']);
  // Other backslashes are ordinary: systemd unit names.
  assert.deepEqual(splitGlobs('/etc/systemd/system/dev-disk-by\\x2duuid-*.swap'), ['/etc/systemd/system/dev-disk-by\\x2duuid-*.swap']);
  // What the glob engine then matches: [ ] is a literal space, and so is an escaped one.
  for (const g of [...splitGlobs('/opt/my[ ]app/*.conf'), ...splitGlobs('/opt/my\\ app/*.conf')]) {
    assert.ok(globToRegExp(g).test('/opt/my app/a.conf'), g);
    assert.ok(!globToRegExp(g).test('/opt/myxapp/a.conf'), g);
  }
});

test('joinGlobs writes a list that splitGlobs reads back as the same globs', () => {
  const globs = ['/opt/my app', '/srv/a,b', '/etc/{pve,network}/*', '/opt/my[ ]app/x', '/srv/tab\tx', '/opt/{one[,]two,three}', '/srv/[oops x'];
  assert.equal(joinGlobs(globs.slice(0, 4)), '/opt/my\\ app /srv/a\\,b /etc/{pve,network}/* /opt/my[ ]app/x');
  assert.deepEqual(splitGlobs(joinGlobs(globs)), globs);
});
