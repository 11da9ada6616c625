// The command table loads a command's file only when it runs: help, an
// unknown name and each command's --help still see every command.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../src/app/version.ts';
import { COMMAND_NAMES, allCommands, loadCommand } from '../../src/cli/commands/index.ts';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { runCli, tempDir } from '../helpers/cli.ts';

test('help lists every command, an unknown one is a usage error naming them, each has its own --help', async () => {
  const commands = await allCommands();
  assert.deepEqual(commands.map(([n]) => n), [...COMMAND_NAMES]);
  assert.equal(COMMAND_NAMES.length, 15);
  const help = await runCli(['--help']);
  assert.equal(help.code, EXIT.OK);
  for (const [name, c] of commands) assert.match(help.stdout, new RegExp(`^  ${name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), name);

  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, EXIT.USAGE);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.match(unknown.stderr, new RegExp(COMMAND_NAMES.join(', ')));
  // Only the table's own names: nothing inherited from Object.prototype.
  assert.equal(loadCommand('toString'), undefined);
  assert.equal((await runCli(['constructor'])).code, EXIT.USAGE);

  for (const name of ['export', 'restore', 'schedule']) {
    const r = await runCli([name, '--help']);
    assert.equal(r.code, EXIT.OK, name);
    assert.ok(r.stdout.startsWith(`Usage: proxsave ${name} `), name);
    assert.deepEqual(await runCli(['help', name]), r, `help ${name} is ${name} --help`);
    assert.deepEqual(await runCli(['help', '-c', '/nonexistent/backup.env', name]), r, `help -c FILE ${name}: FILE is the option's value`);
  }
  assert.equal((await runCli(['help'])).stdout, help.stdout);
  assert.equal((await runCli(['help', 'frobnicate'])).code, EXIT.USAGE);
});

test('--version with a command prints the version and runs nothing, before or after the command word', async () => {
  const d = tempDir();
  try {
    const config = path.join(d.path, 'proxsave.env');
    fs.writeFileSync(config, `SNAPSHOT_PATH=${d.path}/repo\nBACKUP_PATH=${d.path}/backup\nLOG_PATH=${d.path}/log\nLOCK_PATH=${d.path}/lock\n`);
    for (const argv of [['--version', 'run'], ['snapshot', '--version'], ['restore', '--rev', 'HEAD', '--apply', '--version']]) {
      const r = await runCli(['-c', config, ...argv]);
      assert.equal(r.code, EXIT.OK, argv.join(' '));
      assert.equal(r.stdout, `proxsave ${VERSION}\n`, argv.join(' '));
    }
    assert.deepEqual(fs.readdirSync(d.path), ['proxsave.env'], 'no repository, archive, log or lock was made');
  } finally {
    d.cleanup();
  }
});
