#!/usr/bin/env node
// Entry point of the built CLI (dist/cli/index.js), started by bin/proxsave.
import { setFlagsFromString } from 'node:v8';
import { commandName, main } from './main.ts';
import { ignoreClosedOutput } from './closed-output.ts';

// An export streams a whole commit through this process, twice (tar out,
// tar read back): with V8's default heap growth, the buffers that die in
// the old generation pile up to ~190 MB peak RSS at 100k entries.
// Optimizing for size keeps it under 150 MB for ~10% more CPU
// (BENCHMARKS.md §3, part 3). Set here, before anything runs, and only for
// `export`, a process of its own: other commands (and tests calling main())
// keep V8's defaults.
if (commandName(process.argv.slice(2)) === 'export') setFlagsFromString('--optimize-for-size');

ignoreClosedOutput(process.stdout);
ignoreClosedOutput(process.stderr);
const code = await main(process.argv.slice(2));
process.exitCode = code;
