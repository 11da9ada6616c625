// The reporter is how the core talks to the user without printing: the CLI
// injects one that renders for a terminal, for cron (plain) or for --json.

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Reporter {
  /** A line of narrative. Warnings are collected into run reports too. */
  log(level: Level, message: string, fields?: Record<string, unknown>): void;
  /**
   * Progress of long work. Called often; the renderer throttles. `total` is
   * undefined when unknown. `unit` says what `done` counts.
   */
  progress(phase: string, done: number, total?: number, unit?: 'items' | 'bytes'): void;
}

export const silentReporter: Reporter = {
  log() {},
  progress() {},
};

/** A reporter that remembers what it was told (tests, run reports). */
export function recordingReporter(): Reporter & { lines: { level: Level; message: string }[] } {
  const lines: { level: Level; message: string }[] = [];
  return {
    lines,
    log(level, message) {
      lines.push({ level, message });
    },
    progress() {},
  };
}
