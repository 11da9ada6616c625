import assert from 'node:assert/strict';
import test from 'node:test';
import { ProxsaveError, type ErrorCode } from '../../src/core/errors.ts';
import { EXIT, EXIT_CODES_HELP, EXIT_MEANINGS, exitCodeForError } from '../../src/cli/exit-codes.ts';

test('every exit code has one meaning in the help table, and every error code maps to a listed exit code', () => {
  const listed = EXIT_MEANINGS.map(([c]) => c);
  assert.deepEqual([...listed].sort((a, b) => a - b), Object.values(EXIT).sort((a, b) => a - b), 'each EXIT value listed once');
  for (const [code, text] of EXIT_MEANINGS) assert.match(EXIT_CODES_HELP, new RegExp(`^ *${code}  ${text.replace(/[()]/g, '\\$&')}$`, 'm'));
  const codes: ErrorCode[] = ['USAGE', 'CONFIG', 'TASKS', 'BACKUP', 'LOCAL_STORAGE', 'CLOUD', 'VERIFY', 'COLLECTION', 'ARCHIVE', 'COMPRESSION', 'DISK_SPACE', 'ENCRYPTION', 'LOCKED', 'TARGET', 'REPOSITORY', 'NOT_FOUND'];
  for (const c of codes) assert.ok(listed.includes(exitCodeForError(new ProxsaveError(c, 'x'))), c);
  assert.equal(exitCodeForError(new Error('a bug')), EXIT.BACKUP);
});
