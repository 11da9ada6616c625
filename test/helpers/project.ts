// Where the project is, whether the tests run from source (tsx) or compiled
// (build/test/, see tsconfig.test.json).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project's root: the nearest directory above this file with a package.json (test/helpers/ from source, build/test/test/helpers/ compiled). */
export const PROJECT = projectRoot(import.meta.dirname);

function projectRoot(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'tasks'))) return d;
    if (dirname(d) === d) throw new Error(`no project root above ${from}`);
  }
}
