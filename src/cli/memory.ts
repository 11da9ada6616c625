// V8 heap settings for large hosts, set by the commands once they know how
// much they hold (process-wide, so only in the CLI: tests and library callers
// keep V8's defaults). Below 20k files or entries memory is well under the
// limits and the defaults are faster (BENCHMARKS.md §1 and §3).
import { setFlagsFromString } from 'node:v8';

const MANY = 20_000;

/**
 * Many planned files: the old generation grows by 40% after a full
 * collection instead of V8's up to 2×. A 50k-file first snapshot peaked at
 * 189–203 MB RSS with the default, 179–182 MB with this, for ~5% more CPU;
 * a no-change run is as fast. `--optimize-for-size` would save more (141 MB)
 * but costs 20–25% of the first snapshot's time.
 */
export function lowMemoryForManyFiles(files: number): void {
  if (files >= MANY) setFlagsFromString('--heap-growing-percent=40');
}

/**
 * Many archive entries: V8 optimizes for size from here on. When the export
 * still read its tar back through this process, the buffers that died in the
 * old generation piled up to 190–230 MB peak RSS at 100k entries (142 MB
 * with the flag, for 5–17% more CPU). Now that the compressor writes the
 * file and the test reads it, the flag saves less (136 against 141 MB at
 * 100k entries, 181 against 184 at 200k) and its CPU cost is within noise;
 * it is kept for those MB. Trees with few entries keep the defaults
 * (BENCHMARKS.md §3). Set before the archive is written.
 */
export function lowMemoryForManyEntries(entries: number): void {
  if (entries >= MANY) setFlagsFromString('--optimize-for-size');
}
