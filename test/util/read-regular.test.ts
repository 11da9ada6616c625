// A file swapped for a FIFO, a directory or a device between the plan's lstat
// and the read is refused at once, not waited on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFileSync } from '../../src/util/read-regular.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('a regular file is read whole; a FIFO, a directory and a device are refused without blocking', () => {
  const t = tempDir();
  try {
    writeFileSync(join(t.path, 'f'), 'content\n');
    assert.equal(readRegularFileSync(join(t.path, 'f')).toString(), 'content\n');
    const big = Buffer.alloc(300_000, 'x');
    writeFileSync(join(t.path, 'big'), big);
    assert.ok(readRegularFileSync(join(t.path, 'big')).equals(big));
    writeFileSync(join(t.path, 'empty'), '');
    assert.equal(readRegularFileSync(join(t.path, 'empty')).length, 0);
    // A file whose stat says 0 bytes but that has content (as procfs files do).
    const version = readRegularFileSync('/proc/version').toString();
    assert.match(version, /^Linux version /);
    execFileSync('mkfifo', [join(t.path, 'fifo')]);
    mkdirSync(join(t.path, 'd'));
    for (const [p, now] of [[join(t.path, 'fifo'), 'a FIFO'], [join(t.path, 'd'), 'a directory'], ['/dev/null', 'a device']] as const) {
      assert.throws(() => readRegularFileSync(p), { message: `not a regular file any more: now ${now}` }, p);
    }
    assert.throws(() => readRegularFileSync(join(t.path, 'missing')), { code: 'ENOENT' });
  } finally {
    t.cleanup();
  }
});
