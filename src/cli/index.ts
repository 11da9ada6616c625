#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point of the built CLI (dist/cli/index.js), started by bin/proxsave.
// The node flag (also on bin/proxsave's and the .deb's first line): young
// generation semi-spaces of 8 MB instead of V8's 16 cut a 50k-file first
// snapshot's peak RSS by 10-12 MB at the same CPU time (BENCHMARKS.md §1).
import { main } from './main.ts';
import { ignoreClosedOutput } from './closed-output.ts';

ignoreClosedOutput(process.stdout);
ignoreClosedOutput(process.stderr);
const code = await main(process.argv.slice(2));
process.exitCode = code;
