import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMetadata, formatMetadataLine, parseMetadata, type MetaEntry } from '../../src/snapshot/read-metadata.ts';
import { isProxsaveError } from '../../src/core/errors.ts';

const e = (path: string, over: Partial<MetaEntry> = {}): MetaEntry => ({ type: 'f', mode: 0o640, uid: 0, gid: 33, owner: 'root', group: 'www-data', path, ...over });

test('formatMetadataLine writes the exact line format', () => {
  assert.equal(formatMetadataLine(e('etc/pve/storage.cfg')), 'f 0640 0 33 root www-data etc/pve/storage.cfg');
  assert.equal(formatMetadataLine(e('tmp', { type: 'd', mode: 0o1777 })), 'd 1777 0 33 root www-data tmp');
  assert.equal(formatMetadataLine(e('etc/with space/x y', { owner: '1001', group: '1001', uid: 1001, gid: 1001 })), 'f 0640 1001 1001 1001 1001 etc/with space/x y');
  assert.equal(formatMetadataLine(e('etc/we\nird')), 'f 0640 0 33 root www-data "etc/we\\nird"');
  assert.equal(formatMetadataLine(e('etc/back\\slash')), 'f 0640 0 33 root www-data "etc/back\\\\slash"');
  assert.equal(formatMetadataLine(e('"quoted')), 'f 0640 0 33 root www-data "\\"quoted"');
  assert.equal(formatMetadataLine(e('etc/naïve-ü')), 'f 0640 0 33 root www-data etc/naïve-ü');
});

test('formatMetadata sorts by byte order and round-trips through parseMetadata', () => {
  const entries = [e('etc/pve/x'), e('etc/pve-foo'), e('etc/pve', { type: 'd', mode: 0o755 }), e('etc/Zed'), e('etc/é'), e('etc/tab\there'), e(' lead'), e('etc/l', { type: 'l', mode: 0o777 })];
  const text = formatMetadata(entries);
  const lines = text.split('\n');
  assert.equal(lines[0], '# proxsave metadata v1');
  assert.equal(text.endsWith('\n'), true);
  assert.deepEqual(
    lines.slice(1, -1).map((l) => l.split(' ').slice(6).join(' ')),
    [' lead', 'etc/Zed', 'etc/l', 'etc/pve', 'etc/pve-foo', 'etc/pve/x', '"etc/tab\\there"', 'etc/é'],
  );
  const parsed = parseMetadata(text);
  assert.equal(parsed.size, entries.length);
  for (const x of entries) assert.deepEqual(parsed.get(x.path), x);
  assert.equal(formatMetadata(parsed.values()), text);
});

test('parseMetadata rejects damage with a line number', () => {
  assert.throws(() => parseMetadata('nope\n'), (err) => isProxsaveError(err) && /:1:/.test(err.message));
  assert.throws(() => parseMetadata('# proxsave metadata v1\nf 0644 0 0 root root a\nx 0644 0 0 root root b\n'), (err) => isProxsaveError(err) && /metadata:3: malformed/.test(err.message));
  assert.throws(() => parseMetadata('# proxsave metadata v1\nf 644 0 0 root root a\n'), /malformed/);
  assert.throws(() => parseMetadata('# proxsave metadata v1\nf 0644 0 0 root root "unterminated\n'), /quoted/);
  assert.throws(() => formatMetadataLine(e('/abs')), /relative/);
  assert.throws(() => formatMetadataLine(e('a', { mode: 0o10000 })), /mode/);
  assert.throws(() => formatMetadata([e('a'), e('a')]), /twice/);
});
