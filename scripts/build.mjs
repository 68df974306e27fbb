#!/usr/bin/env node
// Builds the console (browser bundle) and the `outpost` CLI bundles with esbuild. Workspace
// packages (@outpost/*) are TypeScript and get bundled; other packages stay in node_modules.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const quiet = process.argv.includes('--quiet')

/** Bare imports other than our own workspaces resolve from node_modules at run time. */
const externalPackages = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@outpost/')) return undefined
      if (args.kind === 'entry-point') return undefined
      return { path: args.path, external: true }
    })
  },
}

const nodeBundle = (entryPoints, outdir) => ({
  entryPoints,
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: quiet ? 'warning' : 'info',
  plugins: [externalPackages],
  entryNames: '[name]',
  // Commands load what they need on demand (the CLI starts faster); shared code goes in chunks.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
})

const started = Date.now()
const consoleDist = join(root, 'console/dist')
for (const dist of [consoleDist, join(root, 'control-plane/dist'), join(root, 'agent/dist')])
  rmSync(dist, { recursive: true, force: true })
mkdirSync(consoleDist, { recursive: true })
await Promise.all([
  esbuild.build({
    entryPoints: { app: join(root, 'console/src/main.ts') },
    outdir: consoleDist,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: 'linked',
    loader: { '.css': 'text' },
    logLevel: quiet ? 'warning' : 'info',
    metafile: true,
  }),
  esbuild.build(
    nodeBundle(
      {
        outpost: join(root, 'control-plane/src/cli/main.ts'),
        worker: join(root, 'agent/src/workers/worker.ts'),
      },
      join(root, 'control-plane/dist'),
    ),
  ),
  esbuild.build(
    nodeBundle(
      { outpost: join(root, 'agent/src/cli/main.ts'), worker: join(root, 'agent/src/workers/worker.ts') },
      join(root, 'agent/dist'),
    ),
  ),
])
copyFileSync(join(root, 'console/src/index.html'), join(consoleDist, 'index.html'))
if (!quiet) {
  const gzipped = gzipSync(readFileSync(join(consoleDist, 'app.js'))).length
  console.log(`console JavaScript: ${(gzipped / 1024).toFixed(1)} KiB gzipped (budget 250 KiB)`)
  console.log(`built in ${Date.now() - started} ms`)
}
