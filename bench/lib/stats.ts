/** Repeated measurement: a warm-up, then several runs; reported as median with min and max. */
export interface Measurement {
  median: number
  min: number
  max: number
  samples: number[]
}

export function summarize(samples: number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, samples }
}

export async function measure(
  options: { runs: number; warmup: number },
  fn: () => Promise<number>,
): Promise<Measurement> {
  for (let i = 0; i < options.warmup; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < options.runs; i++) samples.push(await fn())
  return summarize(samples)
}

export function fmt(value: number, unit: string): string {
  if (unit === 'rows/s' || unit === 'records/s' || unit === 'msgs/s') {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M ${unit}`
    if (value >= 1e3) return `${(value / 1e3).toFixed(0)}k ${unit}`
    return `${value.toFixed(0)} ${unit}`
  }
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`
  if (unit === 'ms') return `${value.toFixed(0)} ms`
  if (unit === 's') return `${value.toFixed(2)} s`
  return `${value.toFixed(2)} ${unit}`
}

export function fmtMeasurement(m: Measurement | undefined, unit: string): string {
  if (!m) return '—'
  return m.samples.length > 1
    ? `${fmt(m.median, unit)} (${fmt(m.min, unit).split(' ')[0]}–${fmt(m.max, unit).split(' ')[0]})`
    : fmt(m.median, unit)
}
