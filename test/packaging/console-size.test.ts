// The console's JavaScript stays within its budget: 250 KiB gzipped, everything included (Lit,
// uPlot, the YAML parser and the pipeline schema the editor validates with).
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { expect, it } from 'vitest'

it('keeps the console bundle under 250 KiB gzipped', () => {
  const gzipped = gzipSync(readFileSync('console/dist/app.js')).length
  expect(gzipped).toBeGreaterThan(50 * 1024)
  expect(gzipped).toBeLessThan(250 * 1024)
})
