// The command table: one file per command beside this one; main.ts dispatches on it.
import type { Command } from '../command.ts';
import { snapshotCmd } from './snapshot.ts';
import { diffCmd } from './diff.ts';
import { logCmd } from './log.ts';
import { showCmd } from './show.ts';
import { tasksCmd } from './tasks.ts';
import { factsCmd } from './facts.ts';
import { configCmd } from './config.ts';
import { exportCmd } from './export.ts';
import { verifyCmd } from './verify.ts';
import { listCmd } from './list.ts';
import { pruneCmd } from './prune.ts';
import { runCmd } from './run.ts';
import { scheduleCmd } from './schedule.ts';
import { fleetCmd } from './fleet.ts';
import { restoreCmd } from './restore.ts';

export const COMMANDS: Record<string, Command> = {
  snapshot: snapshotCmd,
  diff: diffCmd,
  log: logCmd,
  show: showCmd,
  tasks: tasksCmd,
  facts: factsCmd,
  config: configCmd,
  export: exportCmd,
  verify: verifyCmd,
  list: listCmd,
  prune: pruneCmd,
  run: runCmd,
  schedule: scheduleCmd,
  fleet: fleetCmd,
  restore: restoreCmd,
};
