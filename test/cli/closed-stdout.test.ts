// `proxsave tasks | head -1`: a reader that goes away early must not turn
// into an EPIPE stack trace. Real processes through a real pipe, repeated,
// because the crash was a race (about 4 runs in 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostWithWorkDir } from '../helpers/hosts.ts';
import { CLI_ARGV, PROJECT, cleanEnv, runCli, tempDir } from '../helpers/cli.ts';


/** Runs `proxsave ARGS | head -1` in bash; resolves proxsave's own exit code and stderr. */
function throughHead(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; line: string }> {
  const quoted = [process.execPath, ...CLI_ARGV, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${quoted} 2>"$ERRFILE" | head -1; echo "rc=\${PIPESTATUS[0]}" >&2; cat "$ERRFILE" >&2`;
  return new Promise((resolve, reject) => {
    const dir = tempDir('proxsave-epipe-');
    const child = spawn('bash', ['-c', script], { cwd: PROJECT, env: { ...env, ERRFILE: join(dir.path, 'err') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      dir.cleanup();
      const m = /^rc=(\d+)$/m.exec(err);
      resolve({ code: m ? Number(m[1]) : -1, stderr: err.replace(/^rc=\d+\n/m, ''), line: out });
    });
  });
}

test('a closed stdout (| head -1) ends tasks, facts, show and list quietly with their normal exit code', async (t) => {
  const { host, work } = await hostWithWorkDir(t, 'pve-cluster');
  const config = join(work.path, 'backup.env');
  writeFileSync(config, `SYSTEM_ROOT_PREFIX=${host.root}\nSNAPSHOT_PATH=${join(work.path, 'repo')}\nCOMMAND_PATH=${host.bin}\nBACKUP_PATH=${join(work.path, 'backups')}\nLOG_PATH=${join(work.path, 'log')}\nLOCK_PATH=${join(work.path, 'lock')}\nMIN_DISK_SPACE_PRIMARY_GB=0\n`);
  const env = cleanEnv();
  const first = await runCli(['-c', config, 'run'], { env });
  assert.equal(first.code, 0, first.stderr);
  // Drift, so that `diff --exit-code` has output and exits 1.
  appendFileSync(join(host.root, 'etc/pve/storage.cfg'), '\ndir: extra\n\tpath /srv/extra\n\tcontent backup\n');

  // [argv, exit code, rounds]: the commands with the most output race the most.
  const commands: [string[], number, number][] = [
    [['tasks'], 0, 3],
    [['show', 'HEAD'], 0, 3],
    [['facts'], 0, 1],
    [['list'], 0, 1],
    [['diff', '--exit-code'], 1, 1],
  ];
  // Three at a time: the machine is shared.
  const jobs = commands.flatMap(([args, expected, rounds]) => Array.from({ length: rounds }, () => ({ args, expected })));
  for (let i = 0; i < jobs.length; i += 3) {
    const batch = jobs.slice(i, i + 3);
    const results = await Promise.all(batch.map((j) => throughHead(['-c', config, ...j.args], env)));
    results.forEach((r, k) => {
      const { args, expected } = batch[k]!;
      assert.equal(r.code, expected, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /EPIPE|internal error|Error:|at .*\.ts:\d+/, `${args.join(' ')}: ${r.stderr}`);
      assert.notEqual(r.line, '', 'head got its line');
    });
  }
});
