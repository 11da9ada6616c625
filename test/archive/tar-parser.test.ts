// The verifier's tar reader reads the same entries whatever the pieces the
// stream arrives in: a header wholly inside a piece is read where it is, one
// cut across pieces is put together first. Damage is found either way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { TarParser, type ParsedEntry } from '../../src/archive/tar-parser.ts';
import { isProxsaveError } from '../../src/core/errors.ts';
import { tmpDir } from './helpers.ts';

function parse(tar: Buffer, piece: number): ParsedEntry[] {
  const seen: ParsedEntry[] = [];
  const p = new TarParser({ onEntry: (e) => seen.push(e), keepEntries: false });
  for (let i = 0; i < tar.length; i += piece) p.consume(tar.subarray(i, i + piece));
  p.finish();
  return seen;
}

function sampleTar(format: 'gnu' | 'pax'): Buffer {
  const dir = tmpDir();
  const long = `d/${'n'.repeat(120)}/${'m'.repeat(90)}.conf`;
  fs.mkdirSync(`${dir}/${long.slice(0, long.lastIndexOf('/'))}`, { recursive: true });
  fs.writeFileSync(`${dir}/${long}`, 'x'.repeat(1000));
  fs.writeFileSync(`${dir}/d/empty`, '');
  fs.writeFileSync(`${dir}/d/block`, 'b'.repeat(512));
  fs.symlinkSync('block', `${dir}/d/link`);
  return execFileSync('tar', [`--format=${format}`, '--sort=name', '-cf', '-', '-C', dir, 'd']);
}

for (const format of ['gnu', 'pax'] as const) {
  test(`tar reader (${format} format): the same entries in one piece and in pieces cut anywhere`, () => {
    const tar = sampleTar(format);
    const whole = parse(tar, tar.length);
    assert.ok(whole.some((e) => e.name.length > 200 && e.size === 1000), 'the long name (a pax or GNU long-name record) is read');
    assert.deepEqual(whole.map((e) => e.typeflag).sort(), ['0', '0', '0', '2', '5', '5']);
    for (const piece of [1, 7, 100, 511, 512, 513, 1024, 4099]) assert.deepEqual(parse(tar, piece), whole, `pieces of ${piece} bytes`);
  });
}

test('tar reader: a damaged header is found whether it is read in place or put together from pieces', () => {
  const tar = Buffer.from(sampleTar('pax'));
  // The first header's name, changed after its checksum was written.
  tar[0] = tar[0]! ^ 0x20;
  for (const piece of [tar.length, 300, 512]) {
    assert.throws(() => parse(tar, piece), (e) => isProxsaveError(e) && e.code === 'VERIFY' && /checksum mismatch at byte 0/.test(e.message), `pieces of ${piece}`);
  }
});
