// A WAL database under a writer that rewrites pairs of rows in one transaction
// as fast as it can, for the consistency tests of the sqlite task's engines:
// each transaction moves both rows of one pair to a new batch number, so a
// copy holding a batch number on only one row caught a transaction half way.
// The writer updates a fixed set of rows: the database stays small (as
// config.db does), so each copy costs what it costs on a real host.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

const PAIRS = 64;

export interface BusyWriter {
  child: ChildProcess;
  /** Resolves once the writer has committed its first batches. */
  started: Promise<void>;
  /** Resolves when the writer has stopped. */
  done: Promise<void>;
  /** Batches committed, known once the writer has stopped. */
  batches(): number;
  /** Asks the writer to stop now (it checks between batches) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Creates `dbPath` (WAL, a config.db-like `tree` table) and starts writing to
 * it for at most `ms`; tests stop it once they have the copies they need.
 * synchronous=NORMAL (pmxcfs' own WAL setting) keeps the writer from spending
 * the suite's CPU on fsync; the locking the copies race against is the same.
 */
export function startBusyWriter(dbPath: string, ms: number): BusyWriter {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tree (inode INTEGER PRIMARY KEY, batch INTEGER NOT NULL, name TEXT NOT NULL, data BLOB)');
  const add = db.prepare('INSERT INTO tree (inode, batch, name, data) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < PAIRS; i++) for (const [k, name] of ['a', 'b'].entries()) add.run(2 * i + k + 1, -(i + 1), name, Buffer.alloc(2048));
  })();
  db.close();
  const writer = join(dirname(dbPath), 'writer.cjs');
  const stopFile = join(dirname(dbPath), 'writer.stop');
  writeFileSync(
    writer,
    `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
const fs = require('node:fs');
const db = new D(${JSON.stringify(dbPath)}); db.pragma('busy_timeout = 5000'); db.pragma('synchronous = NORMAL');
const up = db.prepare('UPDATE tree SET batch = ?, data = ? WHERE inode = ?');
const pair = db.transaction((b) => { const i = b % ${PAIRS}; up.run(b, Buffer.alloc(2048, b % 251), 2 * i + 1); up.run(b, Buffer.alloc(2048, b % 251), 2 * i + 2); });
let b = 0; const end = Date.now() + ${ms};
while (b < 64) pair(b++);
process.stdout.write('started\\n');
while (Date.now() < end && (b % 64 !== 0 || !fs.existsSync(${JSON.stringify(stopFile)}))) pair(b++);
process.stdout.write(String(b));`,
  );
  const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'pipe', 'inherit'] });
  let written = '';
  let onStart: () => void;
  const started = new Promise<void>((res) => (onStart = res));
  child.stdout!.on('data', (x) => {
    written += x;
    if (written.includes('\n')) onStart();
  });
  const done = new Promise<void>((res) => child.on('close', () => res()));
  void done.then(() => onStart());
  const stop = async () => {
    writeFileSync(stopFile, '');
    await done;
  };
  return { child, done, started, batches: () => Number(written.split('\n').pop()), stop };
}

/** Batches of a copy that do not hold exactly their two rows. */
export function tornBatches(copy: Database.Database): number {
  return (copy.prepare('SELECT count(*) AS n FROM (SELECT batch FROM tree GROUP BY batch HAVING count(*) <> 2)').get() as { n: number }).n;
}
