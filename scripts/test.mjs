#!/usr/bin/env node
// `npm test`: installs what is missing, then runs every check and test and prints one summary
// line `N passed, N failed`. Checks: generated code up to date, type check, lint; then vitest
// (unit tests beside the source, integration and fault tests in test/, browser tests).
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CHROMIUM, ensureAptPackages, ensureNodeModules, NATS, root } from './setup.mjs'

ensureNodeModules()
ensureAptPackages([NATS, CHROMIUM])

const results = { passed: 0, failed: 0, failures: [] }
function step(name, command, args, env = {}) {
  process.stderr.write(`\n== ${name}\n`)
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.status === 0) results.passed++
  else {
    results.failed++
    results.failures.push(name)
  }
  return r.status === 0
}

const bin = (name) => join(root, 'node_modules/.bin', name)
step('build', process.execPath, ['scripts/build.mjs', '--quiet'])
step('generated code is up to date', process.execPath, ['scripts/generate.mjs', '--check'])
step('type check', process.execPath, ['node_modules/typescript7/bin/tsc', '--noEmit', '-p', 'tsconfig.json'])
step('type check (console)', process.execPath, [
  'node_modules/typescript7/bin/tsc',
  '--noEmit',
  '-p',
  'console/tsconfig.json',
])
step('lint and format', bin('biome'), ['check', '--error-on-warnings', '.'])

const report = join(root, 'test-results/vitest.json')
rmSync(report, { force: true })
mkdirSync(join(root, 'test-results'), { recursive: true })
process.stderr.write('\n== vitest\n')
const vitest = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
)
try {
  const data = JSON.parse(readFileSync(report, 'utf8'))
  results.passed += data.numPassedTests
  results.failed += data.numFailedTests + (data.numRuntimeErrorTests ?? 0)
  if (data.numFailedTests > 0) results.failures.push(`${data.numFailedTests} vitest test(s)`)
  // Vitest also fails a run for errors outside any test: unhandled errors, failing hooks.
  if (vitest.status !== 0 && results.failed === 0) {
    results.failed++
    results.failures.push('vitest reported errors outside the tests (unhandled errors or hooks; see above)')
  }
  // A file that fails to load has no tests to count: count it as a failure.
  for (const file of data.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
      results.failed++
      results.failures.push(`${file.name} did not run: ${(file.message ?? '').split('\n')[0]}`)
    }
  }
} catch (error) {
  results.failed++
  results.failures.push(`vitest produced no report (${error.message})`)
}
writeFileSync(join(root, 'test-results/summary.json'), `${JSON.stringify(results, null, 2)}\n`)
if (results.failures.length > 0) process.stderr.write(`\nfailed: ${results.failures.join('; ')}\n`)
process.stdout.write(`${results.passed} passed, ${results.failed} failed\n`)
process.exit(results.failed === 0 ? 0 : 1)
