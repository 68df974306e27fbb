import { normalizeSchedule, parsePipeline } from '@outpost/shared'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../log.js'
import { RunQuality } from '../validate/profile.js'
import type { RunnablePipeline } from './pipeline.js'
import type { RunOutcome } from './run.js'
import { Scheduler } from './scheduler.js'

const log = createLogger({ level: 'error', write: () => {} })

function runnable(name: string, schedule: string, hash = 'h1'): RunnablePipeline {
  const text = `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: ${name} }\nspec:\n  schedule: ${schedule}\n  source: { type: csv, path: x }\n  sinks: [{ type: file, path: o }]\n`
  const parsed = parsePipeline(text)
  if (!parsed.ok) throw new Error('bad test spec')
  return {
    name,
    version: 1,
    hash,
    specJson: parsed.value.canonical,
    pipeline: parsed.value.pipeline,
    schedule: normalizeSchedule(parsed.value.pipeline.spec.schedule),
    key: name,
  }
}

const outcome = (p: RunnablePipeline, trigger: string): RunOutcome => ({
  profile: new RunQuality(),
  runId: 'r',
  pipeline: p.name,
  version: 1,
  trigger,
  status: 'succeeded',
  startedAt: Date.now(),
  finishedAt: Date.now(),
  counts: {
    rowsRead: 0,
    rowsWritten: 0,
    rowsQuarantined: 0,
    rowsFiltered: 0,
    rowsDropped: 0,
    bytesRead: 0,
    batches: 0,
  },
  errors: [],
  errorsTotal: 0,
})

describe('Scheduler', () => {
  it('runs interval pipelines repeatedly, manual ones only when triggered, never one pipeline twice at once', async () => {
    const started: string[] = []
    let concurrent = 0
    let maxConcurrent = 0
    const scheduler = new Scheduler(
      async (p, trigger) => {
        started.push(`${p.name}:${trigger}`)
        concurrent++
        maxConcurrent = Math.max(maxConcurrent, concurrent)
        await new Promise((r) => setTimeout(r, 50))
        concurrent--
        return outcome(p, trigger)
      },
      log,
      1,
    )
    scheduler.apply([runnable('fast', '{ every: 1s }'), runnable('manual-one', 'manual')])
    await new Promise((r) => setTimeout(r, 1300))
    expect(started.filter((s) => s === 'fast:schedule').length).toBe(2)
    expect(started.some((s) => s.startsWith('manual-one'))).toBe(false)
    expect(scheduler.trigger('manual-one')).toBe(true)
    expect(scheduler.trigger('manual-one')).toBe(true)
    expect(scheduler.trigger('unknown')).toBe(false)
    await new Promise((r) => setTimeout(r, 300))
    // Two triggers while one run is active: one run now, one queued after it.
    expect(started.filter((s) => s === 'manual-one:manual').length).toBe(2)
    expect(maxConcurrent).toBe(1)
    await scheduler.stop()
  })

  it('stops runs on stop() and schedules a changed pipeline with its new spec', async () => {
    const seen: string[] = []
    const scheduler = new Scheduler(async (p, trigger, signal) => {
      seen.push(p.hash)
      await new Promise((r) => (signal.aborted ? r(undefined) : signal.addEventListener('abort', r)))
      return outcome(p, trigger)
    }, log)
    scheduler.apply([runnable('p', '{ every: 1s }', 'h1')])
    await new Promise((r) => setTimeout(r, 50))
    scheduler.apply([runnable('p', '{ every: 1s }', 'h2')])
    expect(scheduler.pipelines()[0]?.hash).toBe('h2')
    await scheduler.stop()
    expect(seen).toEqual(['h1'])
    expect(scheduler.activeRuns).toBe(0)
  })
})

describe('Scheduler after', () => {
  it('runs a pipeline once all the pipelines it comes after have succeeded, not after a failure', async () => {
    const ran: string[] = []
    let failB = true
    const scheduler = new Scheduler(async (p, trigger) => {
      ran.push(`${p.name}:${trigger}`)
      const o = outcome(p, trigger)
      if (p.name === 'b' && failB) {
        failB = false
        return { ...o, status: 'failed' }
      }
      return o
    }, log)
    const wait = () => new Promise((r) => setTimeout(r, 50))
    scheduler.apply([runnable('a', 'manual'), runnable('b', 'manual'), runnable('c', '{ after: [a, b] }')])
    scheduler.trigger('a')
    await wait()
    scheduler.trigger('b')
    await wait()
    // b failed: c waits.
    expect(ran).toEqual(['a:manual', 'b:manual'])
    scheduler.trigger('b')
    await wait()
    expect(ran).toEqual(['a:manual', 'b:manual', 'b:manual', 'c:after'])
    // Both must succeed again before c runs again.
    scheduler.trigger('a')
    await wait()
    expect(ran.filter((r) => r.startsWith('c'))).toHaveLength(1)
    await scheduler.stop()
  })
})
