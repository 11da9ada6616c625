import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePaths } from '../../src/git/path-order.ts';
test('comparePaths equals UTF-8 byte order', () => {
  const samples = ['a', 'b', 'a/b', 'a-b', 'a.b', 'é', 'z', '\uE000', '\uFFFD', '😀', '😀a', '𝄞', 'a😀', 'a\uE000', 'A', '', 'ab', 'a\u0000'];
  for (const x of samples) for (const y of samples) assert.equal(Math.sign(comparePaths(x, y)), Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))), `${x} vs ${y}`);
});
