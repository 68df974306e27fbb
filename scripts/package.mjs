#!/usr/bin/env node
// `npm run package`: release bundles. Builds, then makes one tarball for the agent and one for the
// control plane under dist/release/: the bundled JavaScript in lib/, the production dependencies it
// loads at run time (with the native ones, such as lmdb, for this platform) in node_modules/, a
// bin/outpost launcher for the system's Node 20+, the systemd unit and the install script.
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { root } from './setup.mjs'

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version
const out = join(root, 'dist/release')
const platform = `${process.platform}-${process.arch}`
if (!process.argv.includes('--no-build'))
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], {
    cwd: root,
    stdio: 'inherit',
  })
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const LAUNCHER = `#!/bin/sh
# Runs Outpost on the system's Node.js (20 or later).
set -e
here="$(cd "$(dirname "$0")/.." && pwd)"
node_bin="\${OUTPOST_NODE:-$(command -v node || true)}"
if [ -z "$node_bin" ]; then echo "outpost: Node.js 20 or later is required (set OUTPOST_NODE or install nodejs)" >&2; exit 1; fi
major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then echo "outpost: Node.js 20 or later is required, found $("$node_bin" --version)" >&2; exit 1; fi
exec "$node_bin" "$here/lib/outpost.js" "$@"
`

/** Production packages a workspace needs, as directories under the root node_modules. */
function productionPackages(workspace) {
  const text = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable', '--workspace', workspace], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  return text
    .split('\n')
    .filter(
      (p) => p.includes(`${join(root, 'node_modules')}/`) && !/\/node_modules\/@(outpost|types)\//.test(p),
    )
}

/** What a dependency needs at run time: no type declarations, source maps, docs or tests. */
const runtimeFile = (src) =>
  !/\.(d\.[cm]?ts|map|md|markdown)$/i.test(src) && !/\/(test|tests|__tests__|docs|examples?)(\/|$)/.test(src)

function bundle(kind, workspace, dist, extra) {
  const name = `outpost-${kind}-${version}-${platform}`
  const dir = join(out, name)
  mkdirSync(join(dir, 'bin'), { recursive: true })
  cpSync(dist, join(dir, 'lib'), { recursive: true, filter: (src) => !src.endsWith('.map') })
  extra?.(dir)
  for (const pkg of productionPackages(workspace))
    cpSync(pkg, join(dir, 'node_modules', relative(join(root, 'node_modules'), pkg)), {
      recursive: true,
      filter: (src) => src === pkg || runtimeFile(relative(pkg, src)),
    })
  writeFileSync(join(dir, 'bin/outpost'), LAUNCHER)
  chmodSync(join(dir, 'bin/outpost'), 0o755)
  mkdirSync(join(dir, 'packaging/systemd'), { recursive: true })
  cpSync(
    join(root, `packaging/systemd/outpost-${kind}.service`),
    join(dir, `packaging/systemd/outpost-${kind}.service`),
  )
  if (kind === 'agent') cpSync(join(root, 'packaging/install-agent.sh'), join(dir, 'install-agent.sh'))
  writeFileSync(join(dir, 'VERSION'), `${version}\n`)
  const tarball = join(out, `${name}.tar.gz`)
  execFileSync('tar', ['-czf', tarball, '-C', out, name])
  const du = execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]
  process.stdout.write(
    `${relative(root, tarball)}: ${(statSync(tarball).size / 2 ** 20).toFixed(1)} MiB (${(Number(du) / 1024).toFixed(1)} MiB unpacked)\n`,
  )
  return tarball
}

bundle('agent', 'agent', join(root, 'agent/dist'))
bundle('control-plane', 'control-plane', join(root, 'control-plane/dist'), (dir) =>
  cpSync(join(root, 'console/dist'), join(dir, 'lib/console'), { recursive: true }),
)
