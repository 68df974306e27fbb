/** An agent's outbox over a window: the gauges are sent when they change, so a gap keeps the last value. */
import type { AgentSample } from './api.js'

export const OUTBOX_SERIES = [
  { label: 'batches waiting', stroke: '#b7791f' },
  { label: 'oldest unacknowledged (s)', stroke: '#b42318' },
]

export function outboxSeries(
  samples: AgentSample[],
  bucketMs: number,
  minutes = 15,
  now = Date.now(),
): [number[], number[], number[]] {
  const xs: number[] = []
  const batches: number[] = []
  const age: number[] = []
  const byT = new Map(samples.map((p) => [p.t, p]))
  const end = now - (now % bucketMs)
  const start = end - minutes * 60_000
  // The last report before the window is where the lines start.
  let lastBatches = 0
  let lastAge = 0
  for (const p of samples) {
    if (p.t >= start) break
    lastBatches = p.outboxBatches ?? lastBatches
    lastAge = p.outboxOldestAgeMs ?? lastAge
  }
  for (let t = start; t <= end; t += bucketMs) {
    const p = byT.get(t)
    lastBatches = p?.outboxBatches ?? lastBatches
    lastAge = p?.outboxOldestAgeMs ?? lastAge
    xs.push(t / 1000)
    batches.push(lastBatches)
    age.push(lastAge / 1000)
  }
  return [xs, batches, age]
}
