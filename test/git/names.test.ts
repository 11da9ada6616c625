// The names proxsave refuses are exactly those stock `git fsck --strict`
// rejects: every candidate goes into one repository, each in a tree of its
// own, and fsck's verdict per tree is compared with refusedName().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.ts';
import { PackWriter } from '../../src/git/pack-writer.ts';
import { refusedName, type NameKind } from '../../src/git/names.ts';
import { decodeName, encodeName } from '../../src/util/name-bytes.ts';

const oidOf = (type: string, content: Buffer) => createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
const treeOf = (entries: { mode: string; name: Buffer; oid: string }[]) =>
  Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} `), e.name, Buffer.of(0), Buffer.from(e.oid, 'hex')]));

function candidates(): { name: string; kind: NameKind }[] {
  const names = new Set<string>();
  const prefixes = ['.git', '.GiT', 'git~1', 'GIT~1', 'git~2', '.gitmodules', '.GITMODULES', 'gitmod~1', 'gitmod~4', 'gitmod~5', 'gi7eba~1', 'gi7eba~9', 'gi7eb~12', '.gitattributes', 'gitatt~1', 'gi7d29~1', '.gitignore', '.gi', 'git'];
  const suffixes = ['', '.', ' ', '. .', '..', ':', ':stream', '\\', '\\x', 'x', '~', '\u200c', '\ufeff', '/'.slice(1)];
  for (const p of prefixes) for (const s of suffixes) names.add(p + s);
  for (const n of ['.g\u200cit', '\u200e.git', '.g\u200bit', '\ufeff.git', '.\u0130git', '.git\udce9', '.git\udce9x', '.gi\udce9t', '.git\ufffe', '.git\uffff', '.git\ufffd', '.gitmodules\udcff', '\udce9.git', 'mnt-pve-backup\\x2dnfs.mount', 'a\\b', '.proxsave']) names.add(n);
  for (let c = 1; c < 256; c++) if (c !== 0x2f && c !== 0x2e) names.add(decodeName(Buffer.of(c)));
  const out: { name: string; kind: NameKind }[] = [];
  for (const name of names) for (const kind of ['file', 'symlink', 'directory'] as const) out.push({ name, kind });
  return out;
}

test('refusedName matches git fsck --strict for every candidate name and kind', () => {
  const t = tempDir();
  try {
    const repo = join(t.path, 'r');
    execFileSync('git', ['init', '-q', repo]);
    const pack = new PackWriter(join(repo, '.git'));
    const blob = Buffer.from('x\n');
    const blobOid = pack.add('blob', blob);
    const list = candidates();
    const trees: string[] = [];
    const subs: string[] = [];
    const top: { mode: string; name: Buffer; oid: string }[] = [];
    list.forEach(({ name, kind }, i) => {
      const mode = kind === 'directory' ? '40000' : kind === 'symlink' ? '120000' : '100644';
      // fsck names the subtree when a .gitmodules is not a blob: one per candidate.
      const subOid = kind === 'directory' ? pack.add('tree', treeOf([{ mode: '100644', name: Buffer.from(`x${i}`), oid: blobOid }])) : '';
      const tree = treeOf([{ mode, name: encodeName(name), oid: kind === 'directory' ? subOid : blobOid }]);
      const oid = oidOf('tree', tree);
      trees.push(oid);
      subs.push(subOid);
      pack.add('tree', tree, oid);
      top.push({ mode: '40000', name: Buffer.from(`c${String(i).padStart(5, '0')}`), oid });
    });
    const root = pack.add('tree', treeOf(top));
    const commit = pack.add('commit', Buffer.from(`tree ${root}\nauthor a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\nx\n`));
    pack.finish();
    execFileSync('git', ['-C', repo, 'update-ref', 'refs/heads/master', commit]);
    let report = '';
    try {
      execFileSync('git', ['-C', repo, 'fsck', '--strict', '--no-dangling', '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      report = String((e as { stderr: Buffer }).stderr);
    }
    const bad = new Set([...report.matchAll(/error in tree ([0-9a-f]{40})/g)].map((m) => m[1]!));
    assert.ok(bad.size > 20, 'fsck rejected the .git spellings');
    const mismatches: string[] = [];
    list.forEach(({ name, kind }, i) => {
      const ours = refusedName(name, kind, () => blob) !== undefined;
      const theirs = bad.has(trees[i]!) || bad.has(subs[i]!);
      if (ours !== theirs) mismatches.push(`${JSON.stringify(name)} ${kind}: proxsave ${ours ? 'refuses' : 'accepts'}, git fsck ${theirs ? 'rejects' : 'accepts'}`);
    });
    assert.deepEqual(mismatches, []);
  } finally {
    t.cleanup();
  }
});

test('.gitmodules files with submodule sections and .gitattributes with long lines are refused, like fsck', () => {
  assert.match(refusedName('.gitmodules', 'file', () => Buffer.from('[submodule "x"]\n\tpath = -x\n'))!, /submodule/);
  assert.equal(refusedName('.gitmodules', 'file', () => Buffer.from('# no sections\n')), undefined);
  assert.match(refusedName('.gitattributes', 'file', () => Buffer.from('a'.repeat(3000)))!, /2048/);
  assert.equal(refusedName('.gitattributes', 'file', () => Buffer.from('*.sh text\n')), undefined);
});
