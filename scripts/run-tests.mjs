#!/usr/bin/env node
// The test command: builds, then runs every compiled *.test.js under dist/ with Node's test runner.
// Usage: node scripts/run-tests.mjs [--slow] [filter...]
//   --slow     also run suites marked slow (K8TS_SLOW=1 is passed to tests)
//   filter     only test files whose path contains one of these substrings
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const slow = args.includes('--slow');
const filters = args.filter((a) => !a.startsWith('--'));

execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = walk(join(root, 'dist'), []).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => relative(root, f).includes(x)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}
const env = { ...process.env, ...(slow ? { K8TS_SLOW: '1' } : {}) };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env, cwd: root });
process.exit(r.status ?? 1);
