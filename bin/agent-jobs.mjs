#!/usr/bin/env node
// Operators run the CLI from a checkout of this repository; tsx runs its TypeScript source directly.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
