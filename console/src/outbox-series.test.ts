import { describe, expect, it } from 'vitest'
import { outboxSeries } from './outbox-series.js'

describe('outboxSeries', () => {
  const now = 1_000_000_000_000 // a multiple of 10 s
  it('keeps the last reported gauges through buckets without a report, from before the window on', () => {
    const [xs, batches, age] = outboxSeries(
      [
        { t: now - 120_000, rowsRead: 0, rowsWritten: 0, outboxBatches: 4, outboxOldestAgeMs: 9000 },
        { t: now - 20_000, rowsRead: 5, rowsWritten: 5 },
        { t: now - 10_000, rowsRead: 0, rowsWritten: 0, outboxBatches: 0, outboxOldestAgeMs: 0 },
      ],
      10_000,
      1,
      now,
    )
    expect(xs).toEqual([-60, -50, -40, -30, -20, -10, 0].map((s) => (now + s * 1000) / 1000))
    expect(batches).toEqual([4, 4, 4, 4, 4, 0, 0])
    expect(age).toEqual([9, 9, 9, 9, 9, 0, 0])
  })

  it('starts at zero for an agent that never reported its outbox', () => {
    const [, batches] = outboxSeries([], 10_000, 1, now + 3000)
    expect(batches).toEqual([0, 0, 0, 0, 0, 0, 0])
  })
})
