// The run lock between real processes started at the same instant: exactly
// one holds it, with no lock there and with a stale one (a dead holder) to
// take over. A lock file that was read while empty used to count as stale.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const fromSource = import.meta.url.endsWith('.ts');
const LOCK = new URL(`../../src/app/lock.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;

/** `n` processes that each try the lock in `dir` at `at` (ms since the epoch) and hold it 1.5 s when they get it. */
async function race(dir: string, n: number, at: number): Promise<string[]> {
  const script = `
    const { acquireLock } = await import(${JSON.stringify(LOCK)});
    while (Date.now() < ${at}) {}
    try { const l = acquireLock({ dir: ${JSON.stringify(dir)} }); console.log('GOT'); setTimeout(() => l.release(), 1500); }
    catch (e) { console.log('NO ' + e.code); }`;
  const runs = Array.from({ length: n }, () =>
    new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(out.trim()));
    }),
  );
  return Promise.all(runs);
}

test('lock: of 6 processes trying at the same instant exactly one holds it, with no lock there and with a stale one', async (t) => {
  const d = tempDir('proxsave-lock-');
  t.after(d.cleanup);
  for (const stale of [false, true]) {
    const dir = join(d.path, stale ? 'stale' : 'none');
    if (stale) {
      (await import('node:fs')).mkdirSync(dir);
      writeFileSync(join(dir, 'proxsave.lock'), 'pid=999999\nstarted=2026-01-01T00:00:00Z\n');
    }
    const said = await race(dir, 6, Date.now() + (fromSource ? 4000 : 1500));
    assert.equal(said.filter((s) => s === 'GOT').length, 1, `${stale ? 'stale lock' : 'no lock'}: ${said.join(', ')}`);
    assert.deepEqual(said.filter((s) => s !== 'GOT'), Array(5).fill('NO LOCKED'));
    assert.equal(existsSync(join(dir, 'proxsave.lock')), false, 'released by its holder');
  }
});
