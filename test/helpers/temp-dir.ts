// The one temporary-directory helper of the test suite. Every directory it
// makes is removed when the test process exits, also where a test never
// called cleanup (node --test runs each file in a process of its own).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  cleanup(): void;
}

const left = new Set<string>();

function remove(path: string): void {
  left.delete(path);
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    /* left for the system's tmp cleaning: an exit handler must not throw */
  }
}

process.on('exit', () => {
  for (const p of left) remove(p);
});

export function tempDir(prefix = 'proxsave-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  left.add(path);
  return { path, cleanup: () => remove(path) };
}
