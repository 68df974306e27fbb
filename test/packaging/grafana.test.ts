// The Grafana dashboard refers only to series Outpost exports (the shared vocabulary, plus the
// process metrics prom-client adds).
import { readFileSync } from 'node:fs'
import { METRICS } from '@outpost/shared'
import { describe, expect, it } from 'vitest'

describe('Grafana dashboard', () => {
  it('queries only series that exist', () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../packaging/grafana/outpost-fleet.json', import.meta.url), 'utf8'),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[]
    }
    const known = new Set(Object.values(METRICS).map((m) => m.name))
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) =>
        [...t.expr.matchAll(/\b(outpost_[a-z_]+|process_[a-z_]+|nodejs_[a-z_]+)\b/g)].map((m) => m[1]!),
      ),
    )
    expect(used.length).toBeGreaterThan(10)
    for (const name of used) {
      if (name.startsWith('process_') || name.startsWith('nodejs_')) continue
      expect(known, `${name} is not in shared/src/metrics.ts`).toContain(name)
    }
  })
})
