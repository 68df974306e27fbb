#!/usr/bin/env node
// `npm run bench`: installs what the benchmark needs (npm packages; nats-server, pgloader, pandas
// and Chromium for the console's budgets, with apt), builds, and runs bench/run.ts (with --fleet:
// bench/fleet.ts). Flags pass through (--quick, --only NAME, --agents N).
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { CHROMIUM, ensureAptPackages, ensureNodeModules, NATS, root } from './setup.mjs'

const fleet = process.argv.includes('--fleet')
ensureNodeModules()
ensureAptPackages([
  NATS,
  // The fleet benchmark needs only NATS.
  ...(fleet
    ? []
    : [
        { package: 'pgloader', binaries: ['pgloader'] },
        CHROMIUM,
        {
          package: 'python3-pandas python3-sqlalchemy python3-psycopg2',
          binaries: ['/usr/lib/python3/dist-packages/pandas/__init__.py'],
        },
      ]),
])
execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' })
const args = process.argv.slice(2).filter((a) => a !== '--fleet')
const r = spawnSync(
  join(root, 'node_modules/.bin/tsx'),
  [fleet ? 'bench/fleet.ts' : 'bench/run.ts', ...args],
  {
    cwd: root,
    stdio: 'inherit',
  },
)
process.exit(r.status ?? 1)
