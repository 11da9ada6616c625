// The command table: one file per command beside this one; main.ts dispatches on it.
// Each file is loaded only when its command runs (or when help, the man page or
// the completion lists them all): importing all fifteen at start cost every
// command ~25 ms of module loading, most of it for commands it does not run.
import type { Command } from '../command.ts';

const LOADERS: Record<string, () => Promise<Command>> = {
  snapshot: async () => (await import('./snapshot.ts')).snapshotCmd,
  diff: async () => (await import('./diff.ts')).diffCmd,
  log: async () => (await import('./log.ts')).logCmd,
  show: async () => (await import('./show.ts')).showCmd,
  tasks: async () => (await import('./tasks.ts')).tasksCmd,
  facts: async () => (await import('./facts.ts')).factsCmd,
  config: async () => (await import('./config.ts')).configCmd,
  export: async () => (await import('./export.ts')).exportCmd,
  verify: async () => (await import('./verify.ts')).verifyCmd,
  list: async () => (await import('./list.ts')).listCmd,
  prune: async () => (await import('./prune.ts')).pruneCmd,
  run: async () => (await import('./run.ts')).runCmd,
  schedule: async () => (await import('./schedule.ts')).scheduleCmd,
  fleet: async () => (await import('./fleet.ts')).fleetCmd,
  restore: async () => (await import('./restore.ts')).restoreCmd,
};

/** The command names, in the order help lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(LOADERS);

/** The command called `name`, loaded; undefined for a name that is no command. */
export function loadCommand(name: string): Promise<Command> | undefined {
  return Object.hasOwn(LOADERS, name) ? LOADERS[name]!() : undefined;
}

/** Every command, loaded, in COMMAND_NAMES order (help, the man page, the completion). */
export async function allCommands(): Promise<[string, Command][]> {
  return Promise.all(COMMAND_NAMES.map(async (n) => [n, await LOADERS[n]!()] as [string, Command]));
}
