/**
 * Starts runs of the assigned pipelines on their schedules: cron (with time zone), fixed
 * intervals, continuous, after other pipelines (a DAG on this agent), or only on demand. A pipeline never runs twice at once; a trigger that
 * arrives while it runs queues one more run. A global limit caps concurrent runs.
 */
import { nextRunAt } from '@outpost/shared'
import type { Logger } from '../log.js'
import type { RunnablePipeline } from './pipeline.js'
import type { RunOutcome } from './run.js'

export type RunFunction = (
  pipeline: RunnablePipeline,
  trigger: string,
  signal: AbortSignal,
) => Promise<RunOutcome>

interface Entry {
  pipeline: RunnablePipeline
  timer: NodeJS.Timeout | undefined
  running: Promise<void> | undefined
  /** Triggers that arrived while it ran, each run once after it, in order. */
  queued: string[]
  /** Callers waiting for the outcome of a queued or starting run, by trigger. */
  waiters: Map<string, ((outcome: RunOutcome | undefined) => void)[]>
  lastStart: number | undefined
  lastOutcome: RunOutcome | undefined
  removed: boolean
}

const MAX_TIMER_MS = 2 ** 31 - 1
const CONTINUOUS_GAP_MS = 1000

export class Scheduler {
  private readonly entries = new Map<string, Entry>()
  private readonly abort = new AbortController()
  private active = 0
  private readonly waiting: (() => void)[] = []
  private stopped = false
  /** For `after` pipelines: the upstreams that have succeeded since they last ran. */
  private readonly upstreamDone = new Map<string, Set<string>>()

  constructor(
    private readonly run: RunFunction,
    private readonly log: Logger,
    private readonly maxConcurrent = 2,
  ) {}

  get activeRuns(): number {
    return this.active
  }

  /** Replaces the set of pipelines. Unchanged ones keep their timers; removed ones finish their current run. */
  apply(pipelines: readonly RunnablePipeline[]): void {
    const next = new Map(pipelines.map((p) => [p.name, p]))
    for (const [name, entry] of this.entries) {
      if (!next.has(name)) {
        entry.removed = true
        if (entry.timer) clearTimeout(entry.timer)
        this.entries.delete(name)
      }
    }
    for (const p of pipelines) {
      let entry = this.entries.get(p.name)
      if (entry) {
        if (entry.pipeline.hash === p.hash) continue
        if (entry.timer) clearTimeout(entry.timer)
        entry.timer = undefined
        entry.pipeline = p
      } else {
        entry = {
          pipeline: p,
          timer: undefined,
          running: undefined,
          queued: [],
          waiters: new Map(),
          lastStart: undefined,
          lastOutcome: undefined,
          removed: false,
        }
        this.entries.set(p.name, entry)
      }
      this.plan(entry)
    }
  }

  pipelines(): RunnablePipeline[] {
    return [...this.entries.values()].map((e) => e.pipeline)
  }

  lastOutcome(name: string): RunOutcome | undefined {
    return this.entries.get(name)?.lastOutcome
  }

  /** Runs a pipeline now (or right after its current run). */
  trigger(name: string, trigger = 'manual'): boolean {
    const entry = this.entries.get(name)
    if (!entry || this.stopped) return false
    if (!entry.running) this.start(entry, trigger)
    // The same trigger queued twice runs once: a run started later reads everything anyway.
    else if (!entry.queued.includes(trigger)) entry.queued.push(trigger)
    return true
  }

  /**
   * Like trigger, and resolves with the outcome of the run it started or queued (undefined when
   * the pipeline is not assigned, or the agent stops first).
   */
  runAndWait(name: string, trigger: string): Promise<RunOutcome | undefined> {
    const entry = this.entries.get(name)
    if (!entry || this.stopped) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const list = entry.waiters.get(trigger) ?? []
      list.push(resolve)
      entry.waiters.set(trigger, list)
      this.trigger(name, trigger)
    })
  }

  private plan(entry: Entry): void {
    if (this.stopped || entry.removed || entry.running) return
    const at = nextRunAt(entry.pipeline.schedule, new Date(), entry.lastStart)
    if (at === undefined) return
    const delay = Math.max(
      0,
      at -
        Date.now() +
        (entry.pipeline.schedule.kind === 'continuous' && entry.lastStart ? CONTINUOUS_GAP_MS : 0),
    )
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined
        if (delay >= MAX_TIMER_MS) this.plan(entry)
        else this.start(entry, 'schedule')
      },
      Math.min(delay, MAX_TIMER_MS),
    )
  }

  private start(entry: Entry, trigger: string): void {
    if (entry.timer) {
      clearTimeout(entry.timer)
      entry.timer = undefined
    }
    entry.lastStart = Date.now()
    const waiters = entry.waiters.get(trigger) ?? []
    entry.waiters.delete(trigger)
    let outcome: RunOutcome | undefined
    entry.running = (async () => {
      await this.slot()
      try {
        if (this.stopped) return
        outcome = await this.run(entry.pipeline, trigger, this.abort.signal)
        entry.lastOutcome = outcome
      } catch (error) {
        this.log.error('run crashed', { pipeline: entry.pipeline.name, error: (error as Error).message })
      } finally {
        this.release()
      }
    })().finally(() => {
      entry.running = undefined
      for (const w of waiters) w(outcome)
      if (outcome?.status === 'succeeded' && outcome.trigger !== 'replay') this.succeeded(entry.pipeline.name)
      if (entry.removed || this.stopped) {
        for (const list of entry.waiters.values()) for (const w of list) w(undefined)
        entry.waiters.clear()
        return
      }
      const queued = entry.queued.shift()
      if (queued !== undefined) {
        this.start(entry, queued)
      } else {
        this.plan(entry)
      }
    })
  }

  /** Starts the pipelines scheduled `after` this one once all their upstreams have succeeded. */
  private succeeded(name: string): void {
    for (const e of this.entries.values()) {
      const s = e.pipeline.schedule
      if (s.kind !== 'after' || !s.after.includes(name)) continue
      const done = this.upstreamDone.get(e.pipeline.name) ?? new Set<string>()
      done.add(name)
      if (s.after.every((u) => done.has(u))) {
        this.upstreamDone.delete(e.pipeline.name)
        this.trigger(e.pipeline.name, 'after')
      } else this.upstreamDone.set(e.pipeline.name, done)
    }
  }

  private async slot(): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.active++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.active++
  }

  private release(): void {
    this.active--
    this.waiting.shift()?.()
  }

  /** Stops scheduling, asks running runs to checkpoint and stop, and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer)
    this.abort.abort(new Error('agent stopping'))
    for (const w of this.waiting.splice(0)) w()
    await Promise.allSettled([...this.entries.values()].map((e) => e.running))
  }
}
