// What `npm start` and `npm test` need before they run: npm packages, and system packages from
// Debian's apt when a binary is missing (nats-server, Chromium, …). Plain Node, no dependencies,
// so it works on a fresh clone.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))

function log(message) {
  process.stderr.write(`[setup] ${message}\n`)
}

/** Installs npm packages when node_modules is missing or older than the lockfile. */
export function ensureNodeModules() {
  const marker = join(root, 'node_modules/.package-lock.json')
  const lock = join(root, 'package-lock.json')
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return
  // `npm install` (not `npm ci`): npm 11 writes lockfiles without other platforms' optional
  // packages (Biome's and buf's binaries), which `npm ci` then rejects as out of sync. With a
  // lockfile present, `npm install` installs exactly the locked versions.
  log('installing npm packages')
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
}

export function which(binary) {
  const r = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

function hasBinary(candidates) {
  return candidates.some((c) => (c.startsWith('/') ? existsSync(c) : which(c)))
}

/**
 * Installs Debian packages whose binaries are missing. `needs` is a list of
 * { package, binaries: [names or absolute paths] }.
 */
export function ensureAptPackages(needs) {
  // One need may name several packages ("python3-pandas python3-sqlalchemy").
  const missing = needs.filter((n) => !hasBinary(n.binaries)).flatMap((n) => n.package.split(/\s+/))
  if (missing.length === 0) return
  const sudo = process.getuid?.() === 0 ? [] : which('sudo') ? ['sudo'] : undefined
  if (!sudo || !which('apt-get')) {
    throw new Error(
      `missing system packages: ${missing.join(', ')}. Install them (apt-get install ${missing.join(' ')}) and run again.`,
    )
  }
  log(`installing ${missing.join(', ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const run = (args) =>
    execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), { stdio: 'inherit', env })
  run(['apt-get', 'update', '-qq'])
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing])
}

export const NATS = { package: 'nats-server', binaries: ['nats-server', '/usr/sbin/nats-server'] }
export const CHROMIUM = { package: 'chromium', binaries: ['/usr/bin/chromium'] }
