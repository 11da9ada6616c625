// Colour only on a terminal, never with NO_COLOR or --no-color; chalk is
// loaded only then (cli/output).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { cleanEnv, runCli } from '../helpers/cli.ts';
import { miniHost } from '../helpers/mini-host.ts';

async function logOutput(config: string, { tty, env = cleanEnv(), extra = [] }: { tty: boolean; env?: NodeJS.ProcessEnv; extra?: string[] }): Promise<string> {
  const out: Buffer[] = [];
  const code = await main(['-c', config, ...extra, 'log'], env, {
    stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)), isTTY: tty },
    stderr: { write: () => true },
  });
  assert.equal(code, 0);
  return Buffer.concat(out).toString('utf8');
}

test('colour on a terminal only, and not with NO_COLOR or --no-color', async (t) => {
  const h = miniHost();
  t.after(h.cleanup);
  h.write('/etc/hostname', 'pve1\n');
  assert.equal((await runCli(['-c', h.config, 'snapshot'])).code, 0);
  const ESC = '\u001b[';
  assert.ok((await logOutput(h.config, { tty: true })).includes(ESC), 'a terminal gets colour');
  assert.ok(!(await logOutput(h.config, { tty: false })).includes(ESC), 'a pipe gets none');
  assert.ok(!(await logOutput(h.config, { tty: true, env: { ...cleanEnv(), NO_COLOR: '1' } })).includes(ESC), 'NO_COLOR');
  assert.ok(!(await logOutput(h.config, { tty: true, extra: ['--no-color'] })).includes(ESC), '--no-color');
});
