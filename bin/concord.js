#!/usr/bin/env node
// The `concord` command of the package: runs the compiled CLI (`npm run build` emits dist/) with plain node.
// In a checkout without a build, `npm run concord -- <args>` runs the TypeScript sources through tsx.
/* global URL, console, process */
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('concord: dist/ is missing: run `npm run build`, or `npm run concord -- <command>` in a checkout.');
  process.exit(1);
}
await import(main.href);
