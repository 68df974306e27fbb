import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** What a fresh process has loaded after importing `module`, and after `then`. */
function driversIn(module: string, then = ''): string[][] {
  const code = `
    await import(${JSON.stringify(here(module))})
    const { pgDriver } = await import(${JSON.stringify(here('./lazy.ts'))})
    const require = (await import('node:module')).createRequire(${JSON.stringify(here('./lazy.ts'))})
    const loadedDrivers = () =>
      ['pg', 'pg-copy-streams', 'mysql2'].filter((id) => require.cache[require.resolve(id)] !== undefined)
    const seen = [loadedDrivers()]
    ${then}
    seen.push(loadedDrivers())
    console.log(JSON.stringify(seen))`
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
  })
  expect(run.stderr).toBe('')
  return JSON.parse(run.stdout) as string[][]
}

describe('database drivers', () => {
  it('are not loaded by a pool thread or the agent until a pipeline uses one', () => {
    // The worker entry imports every source, transform and sink.
    expect(driversIn('../workers/worker.ts', 'pgDriver()')).toEqual([[], ['pg']])
    expect(driversIn('../index.ts')).toEqual([[], []])
  })
})
