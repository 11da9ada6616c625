// isomorphic-git, loaded lazily (importing it costs ~100 ms): the only file
// that imports it. proxsave uses it to create a repository (init, config),
// to resolve refs and abbreviated ids, and to expand delta objects, which
// only a manual `git gc` creates. Everything else is read and written by
// proxsave's own code in this folder.
type Git = typeof import('isomorphic-git');
let gitModule: Promise<Git> | undefined;
export function isoGit(): Promise<Git> {
  gitModule ??= import('isomorphic-git').then((m) => (m as unknown as { default: Git }).default ?? m);
  return gitModule;
}

/** Shared isomorphic-git cache (pack indexes) for one process. */
export const isoCache: object = {};
