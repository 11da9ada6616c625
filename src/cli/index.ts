#!/usr/bin/env node
// Entry point of the built CLI (dist/cli/index.js), started by bin/proxsave.
import { main } from './main.ts';
import { ignoreClosedOutput } from './closed-output.ts';

ignoreClosedOutput(process.stdout);
ignoreClosedOutput(process.stderr);
const code = await main(process.argv.slice(2));
process.exitCode = code;
