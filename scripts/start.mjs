#!/usr/bin/env node
// `npm start`: installs what is missing, builds, and runs `outpost up` (NATS, control plane with
// its embedded store, one local agent, the example pipelines, the console).
import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureAptPackages, ensureNodeModules, NATS, root } from './setup.mjs'

ensureNodeModules()
if (!process.env.NATS_URL) ensureAptPackages([NATS])
execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' })
const child = spawn(
  process.execPath,
  [join(root, 'control-plane/dist/outpost.js'), 'up', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
)
// Ctrl-C reaches the whole process group; `outpost up` stops its children in order.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {})
child.on('exit', (code) => process.exit(code ?? 1))
