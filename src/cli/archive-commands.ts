// export, verify, list, prune and run: the commands built on exported archives.
import type { Command } from './commands.ts';

export const ARCHIVE_COMMANDS: Record<string, Command> = {};
