#!/usr/bin/env node
// Entry point of the built CLI (dist/cli/index.js), started by bin/proxsave.
import { main } from './main.ts';

const code = await main(process.argv.slice(2));
process.exitCode = code;
