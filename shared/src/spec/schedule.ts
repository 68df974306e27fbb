import { Cron } from 'croner'
import * as z from 'zod'
import { duration } from './duration.js'

/** Why a cron expression (with an optional IANA time zone) is unusable, or undefined when it is fine. */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  try {
    const cron = new Cron(expression, timezone === undefined ? { paused: true } : { paused: true, timezone })
    if (cron.nextRun() === null) return `cron "${expression}" never fires`
    return undefined
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (message.includes('timezone')) return `unknown time zone "${timezone}"`
    return `invalid cron "${expression}": ${message.replace(/^Cron\w*: /, '')}`
  }
}

const cronText = z.string().superRefine((text, ctx) => {
  if (text === 'manual' || text === 'continuous') return
  const problem = cronProblem(text)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

const cronWithZone = z
  .strictObject({
    cron: z.string().describe('Cron expression with 5 or 6 fields, or @hourly, @daily, …'),
    timezone: z.string().optional().describe('IANA time zone the cron is read in; default UTC.'),
  })
  .superRefine((value, ctx) => {
    const problem = cronProblem(value.cron, value.timezone ?? 'UTC')
    if (problem)
      ctx.addIssue({
        code: 'custom',
        message: problem,
        path: problem.startsWith('unknown time') ? ['timezone'] : ['cron'],
      })
  })

const every = z.strictObject({
  every: duration
    .refine((ms) => ms >= 1000, 'every must be at least 1s')
    .describe('Fixed interval between run starts, e.g. 30s.'),
})

const after = z.strictObject({
  after: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a pipeline name'))
    .min(1, 'after needs at least one pipeline')
    .refine((l) => new Set(l).size === l.length, 'a pipeline is listed twice')
    .describe('Run on the same agent once each of these pipelines has succeeded since this one last ran.'),
})

export const schedule = z
  .union([cronText, every, cronWithZone, after])
  .describe(
    '"manual", "continuous", a cron expression, { every: 30s }, { cron, timezone } or { after: [pipeline] }.',
  )

export type ScheduleInput = z.input<typeof schedule>
export type Schedule =
  | { kind: 'manual' }
  | { kind: 'continuous' }
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; cron: string; timezone: string }
  | { kind: 'after'; after: string[] }

export function normalizeSchedule(value: z.output<typeof schedule>): Schedule {
  if (typeof value === 'string') {
    if (value === 'manual' || value === 'continuous') return { kind: value }
    return { kind: 'cron', cron: value, timezone: 'UTC' }
  }
  if ('every' in value) return { kind: 'every', everyMs: value.every }
  if ('after' in value) return { kind: 'after', after: value.after }
  return { kind: 'cron', cron: value.cron, timezone: value.timezone ?? 'UTC' }
}

/** The next start time after `from`, or undefined for schedules that are not time-driven. */
export function nextRunAt(s: Schedule, from: Date, lastStart?: number): number | undefined {
  switch (s.kind) {
    case 'manual':
    case 'after':
      return undefined
    case 'continuous':
      return from.getTime()
    case 'every':
      return lastStart === undefined ? from.getTime() : Math.max(from.getTime(), lastStart + s.everyMs)
    case 'cron':
      return new Cron(s.cron, { paused: true, timezone: s.timezone }).nextRun(from)?.getTime()
  }
}

/**
 * The first cycle among `after` dependencies, as a path (`a → b → a`), given each pipeline's
 * upstream list; undefined when there is none.
 */
export function afterCycle(upstreams: ReadonlyMap<string, readonly string[]>): string | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (name: string): string | undefined => {
    if (state.get(name) === 'done') return undefined
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name].join(' → ')
    state.set(name, 'visiting')
    path.push(name)
    for (const up of upstreams.get(name) ?? []) {
      const cycle = visit(up)
      if (cycle) return cycle
    }
    path.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const name of upstreams.keys()) {
    const cycle = visit(name)
    if (cycle) return cycle
  }
  return undefined
}
