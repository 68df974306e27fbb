/** Test helper: runs transforms, as written in a spec, over rows, the way the worker does. */
import type { Column, Value } from '@outpost/shared/batch'
import { transforms } from '../registry.js'
import type { Rejection, TransformContext, TransformImpl } from './types.js'

export const TEST_CONTEXT: TransformContext = {
  pipeline: 'p',
  agentId: 'agt-1',
  runId: 'run-1',
  version: 3,
  source: '/drop/a.csv',
  now: new Date(Date.UTC(2026, 0, 1)),
}

function apply(steps: Record<string, unknown>[], input: Column[], rows: Value[][]) {
  const rejected: Rejection[] = []
  let filtered = 0
  let frame = { columns: input, rows: rows.map((r) => r.slice()), records: rows.map((_, i) => i) }
  for (const step of steps) {
    const [name, options] = Object.entries(step)[0] as [keyof typeof transforms, unknown]
    const impl = transforms[name] as TransformImpl<unknown>
    // Options go through the spec's schema, as in a pipeline (defaults applied).
    const bound = impl.bind(impl.spec.options.parse(options), frame.columns, { pipeline: 'p' })
    frame = bound.run(
      frame,
      { reject: (r) => rejected.push(r), filtered: (n) => (filtered += n) },
      TEST_CONTEXT,
    )
    frame = { ...frame, columns: bound.columns }
  }
  return { ...frame, rejected, filtered }
}

export const registryTransforms = { apply }
