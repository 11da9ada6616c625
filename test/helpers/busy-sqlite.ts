// A WAL database under a writer that commits pairs of rows as fast as it can,
// for the consistency tests of the sqlite task's engines: a copy holding an odd
// number of rows for some batch caught a transaction half way.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export interface BusyWriter {
  child: ChildProcess;
  /** Resolves when the writer has stopped. */
  done: Promise<void>;
  /** Batches committed, known once the writer has stopped. */
  batches(): number;
}

/** Creates `dbPath` (WAL, a config.db-like `tree` table) and starts writing to it for `ms`. */
export function startBusyWriter(dbPath: string, ms: number): BusyWriter {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tree (inode INTEGER PRIMARY KEY, batch INTEGER NOT NULL, name TEXT NOT NULL, data BLOB)');
  db.close();
  const writer = join(dirname(dbPath), 'writer.cjs');
  writeFileSync(
    writer,
    `const D = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
const db = new D(${JSON.stringify(dbPath)}); db.pragma('busy_timeout = 5000');
const ins = db.prepare('INSERT INTO tree (batch, name, data) VALUES (?, ?, ?)');
const pair = db.transaction((b) => { ins.run(b, 'a', Buffer.alloc(2048, b % 251)); ins.run(b, 'b', Buffer.alloc(2048, b % 251)); });
let b = 0; const end = Date.now() + ${ms};
while (Date.now() < end) pair(b++);
process.stdout.write(String(b));`,
  );
  const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'pipe', 'inherit'] });
  let written = '';
  child.stdout!.on('data', (x) => (written += x));
  const done = new Promise<void>((res) => child.on('close', () => res()));
  return { child, done, batches: () => Number(written) };
}

/** Batches of a copy that do not hold exactly their two rows. */
export function tornBatches(copy: Database.Database): number {
  return (copy.prepare('SELECT count(*) AS n FROM (SELECT batch FROM tree GROUP BY batch HAVING count(*) <> 2)').get() as { n: number }).n;
}
